// The enrichment service is stopped: the gateway answers 503, which is retried, then thrown.
import assert from "node:assert/strict";
import { test } from "node:test";
import { APIError, APIStatusError, LeadmeshError } from "../../dist/index.js";
import { clientOf, setting } from "../support.js";

test("a 503 is retried maxRetries times, then thrown as APIError with the answer's code", async () => {
  // Through the proxy, which counts the attempts (tests/sdk/test_js_sdk.py checks there were 3).
  const client = clientOf("RETRY", { baseURL: setting("LEADMESH_TEST_PROXY_URL"), maxRetries: 2 });
  await assert.rejects(client.enrich.lead({ email: "mike.chen@techflow.io" }), (error) => {
    assert.ok(error instanceof APIError && error instanceof APIStatusError && error instanceof LeadmeshError, error);
    assert.equal(error.status, 503);
    assert.equal(error.type, "service_unavailable");
    assert.ok(error.code);
    assert.match(error.message, /unavailable/);
    assert.ok(error.requestId);
    return true;
  });
});
