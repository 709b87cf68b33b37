import assert from "node:assert/strict";
import { test } from "node:test";
import { clientOf, setting } from "../support.js";

test("a POST whose answer is lost is retried with the same idempotency key and charged once", async () => {
  const direct = clientOf("RETRY");
  // The proxy loses the answer to the first enrichment it passes on (after the gateway served it).
  const proxied = clientOf("RETRY", { baseURL: setting("LEADMESH_TEST_PROXY_URL") });
  const before = (await direct.credits.get()).balance;
  const result = await proxied.enrich.lead({ email: "mike.chen@techflow.io" });
  assert.equal(result.status, "completed");
  assert.equal(result.meta.credits_used, 1);
  assert.equal((await direct.credits.get()).balance, before - 1);
  const charges = [];
  for await (const entry of direct.credits.ledger()) if (entry.type === "charge") charges.push(entry);
  assert.equal(charges.length, 1);
});
