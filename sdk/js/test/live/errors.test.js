// Every error class, each from a real answer of the gateway (or a real socket).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  APIConnectionError,
  APITimeoutError,
  AuthenticationError,
  ConflictError,
  InsufficientCreditsError,
  InvalidRequestError,
  Leadmesh,
  LeadmeshError,
  NotFoundError,
  RateLimitError,
} from "../../dist/index.js";
import { clientOf, setting } from "../support.js";

/** assert.rejects' check: the error is a `Class` with these fields, and the common ones. */
function is(Class, fields) {
  return (error) => {
    assert.ok(error instanceof Class && error instanceof LeadmeshError, error);
    for (const [name, value] of Object.entries(fields)) assert.deepEqual(error[name], value, name);
    assert.ok(error.message);
    if (error.status) assert.match(error.requestId, /\S/);
    return true;
  };
}

test("401: an unknown key is an AuthenticationError", async () => {
  const client = new Leadmesh("lm_live_not-a-real-key");
  await assert.rejects(client.credits.get(), is(AuthenticationError, { status: 401, type: "authentication_error" }));
});

test("402: a broke account is an InsufficientCreditsError with its balance", async () => {
  await assert.rejects(
    clientOf("BROKE").enrich.lead({ email: "mike.chen@techflow.io" }),
    is(InsufficientCreditsError, { status: 402, code: "INSUFFICIENT_CREDITS", balance: 0 }),
  );
});

test("404: another account's or no record is a NotFoundError", async () => {
  const client = clientOf("OTHER");
  await assert.rejects(
    client.enrichments.get("ev_doesnotexist"),
    is(NotFoundError, { status: 404, code: "ENRICHMENT_NOT_FOUND" }),
  );
  await assert.rejects(client.jobs.get("job_doesnotexist"), is(NotFoundError, { status: 404, code: "JOB_NOT_FOUND" }));
});

test("409: an idempotency key reused with another body is a ConflictError", async () => {
  const client = clientOf("OTHER");
  const key = `reused-${Date.now()}`;
  await client.enrich.lead({ email: "nobody@unknown-corp.com" }, { idempotencyKey: key });
  await assert.rejects(
    client.enrich.lead({ email: "someone@unknown-corp.com" }, { idempotencyKey: key }),
    is(ConflictError, { status: 409, code: "IDEMPOTENCY_KEY_REUSED" }),
  );
});

test("400 and 422: a bad request is an InvalidRequestError naming the field", async () => {
  const client = clientOf("OTHER");
  await assert.rejects(client.enrich.lead({}), is(InvalidRequestError, { status: 400, code: "NO_IDENTIFIER" }));
  await assert.rejects(
    client.enrich.lead({ email: "not-an-email" }),
    is(InvalidRequestError, { status: 400, code: "INVALID_EMAIL", field: "email" }),
  );
  await assert.rejects(
    client.enrich.lead({ email: "mike.chen@techflow.io", max_contacts: 0 }),
    is(InvalidRequestError, { status: 422, code: "VALIDATION_ERROR", field: "max_contacts" }),
  );
});

test("429: past the rate limit is a RateLimitError with retryAfter; with retries the call waits it out", async () => {
  // A gateway whose limit is 2 requests, then one every 4 seconds; not_found leads cost nothing.
  const baseURL = setting("LEADMESH_TEST_LIMITED_URL");
  const impatient = clientOf("RATE", { baseURL, maxRetries: 0 });
  const lead = { email: "nobody@unknown-corp.com" };
  const burst = await Promise.allSettled(Array.from({ length: 5 }, () => impatient.enrich.lead(lead)));
  const refused = burst.filter(({ status }) => status === "rejected").map(({ reason }) => reason);
  assert.ok(refused.length >= 2, `${refused.length} of 5 refused`);
  for (const error of refused) {
    is(RateLimitError, { status: 429, code: "RATE_LIMITED", type: "rate_limited" })(error);
    assert.ok(error.retryAfter >= 1, `retryAfter ${error.retryAfter}`);
  }
  const patient = clientOf("RATE", { baseURL, maxRetries: 3 });
  const started = Date.now();
  const answer = await patient.enrich.lead(lead);
  assert.equal(answer.status, "not_found");
  assert.ok(Date.now() - started >= 1000, "the retry waited for Retry-After");
});

test("a port nobody listens on is an APIConnectionError", async () => {
  const client = clientOf("OTHER", { baseURL: setting("LEADMESH_TEST_CLOSED_URL"), maxRetries: 1 });
  await assert.rejects(client.credits.get(), (error) => {
    assert.ok(error instanceof APIConnectionError && !(error instanceof APITimeoutError), error);
    assert.equal(error.status, undefined);
    return true;
  });
});

test("a server that never answers is an APITimeoutError", async () => {
  const client = clientOf("OTHER", { baseURL: setting("LEADMESH_TEST_SILENT_URL"), timeout: 200, maxRetries: 1 });
  await assert.rejects(client.enrich.lead({ email: "mike.chen@techflow.io" }), (error) => {
    assert.ok(error instanceof APITimeoutError && error instanceof APIConnectionError, error);
    assert.match(error.message, /200 ms/);
    return true;
  });
});

test("the caller's own signal aborts a call, as fetch does, without retrying it", async () => {
  const client = clientOf("OTHER", { baseURL: setting("LEADMESH_TEST_SILENT_URL"), timeout: 60_000 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(client.credits.get({ signal: controller.signal }), { name: "AbortError" });
});
