import assert from "node:assert/strict";
import { test } from "node:test";
import { ConflictError } from "../../dist/index.js";
import { clientOf } from "../support.js";

const client = clientOf("ACCOUNT");

test("icp: get, update with ifMatch, a stale ifMatch is a ConflictError, versions across pages", async () => {
  const current = await client.icp.get();
  assert.ok(current.version >= 1);
  const updated = await client.icp.update(
    { seniorities: { values: ["vp", "director"], weight: 30 }, industries: { values: ["SaaS"], weight: 20 } },
    { ifMatch: current.version },
  );
  assert.equal(updated.version, current.version + 1);
  assert.deepEqual(updated.seniorities, { values: ["vp", "director"], weight: 30 });
  assert.equal(updated.is_default, false);
  await assert.rejects(
    client.icp.update({ industries: { values: ["Fintech"], weight: 10 } }, { ifMatch: current.version }),
    (error) => error instanceof ConflictError && error.code === "ICP_VERSION_CONFLICT",
  );
  const versions = [];
  for await (const profile of client.icp.versions({ pageSize: 1 })) versions.push(profile.version);
  assert.deepEqual(versions.slice(0, 2), [updated.version, current.version]);
  assert.deepEqual(await client.icp.get({ version: current.version }), current);
});

test("signals.send records what it accepts and says why it rejects the rest", async () => {
  const answer = await client.signals.send([
    { domain: "techflow.io", type: "pricing_page_view" },
    { domain: "techflow.io", type: "no_such_event" },
  ]);
  assert.equal(answer.accepted, 1);
  assert.deepEqual(answer.rejected.map(({ index, reason }) => [index, reason]), [[1, "unknown_type"]]);
});

test("credits.get and the ledger iterated across pages", async () => {
  await client.enrich.lead({ email: "tom@techflow.io" });
  const credits = await client.credits.get({ pageSize: 100 });
  assert.equal(credits.balance, 9);
  assert.equal(credits.reserved, 0);
  assert.equal(typeof credits.free_tier.monthly_credits, "number");
  const entries = [];
  for await (const entry of client.credits.ledger({ pageSize: 1 })) entries.push(entry);
  assert.ok(entries.length >= 2);
  assert.deepEqual(entries, credits.ledger);
  assert.equal(entries[0].type, "charge");
  assert.equal(entries[0].balance_after, 9);
});

test("webhooks.secret is the account's signing secret", async () => {
  const answer = await client.webhooks.secret();
  assert.match(answer.secret, /^whsec_/);
  assert.equal(answer.header, "Leadmesh-Signature");
});
