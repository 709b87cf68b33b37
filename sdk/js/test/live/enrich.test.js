import assert from "node:assert/strict";
import { test } from "node:test";
import { Leadmesh } from "../../dist/index.js";
import { rawGet } from "../support.js";

// The README's example, as written (the main account's key is LEADMESH_API_KEY).
test("the seed's example: client.enrich.lead({ email }) and result.lead.title", async () => {
  const client = new Leadmesh(process.env.LEADMESH_API_KEY);
  const result = await client.enrich.lead({ email: "mike.chen@techflow.io" });
  assert.equal(typeof result.lead.title, "string");
  assert.ok(result.lead.title.length > 0);
  assert.equal(result.status, "completed");
  assert.match(result.id, /^ev_/);
  assert.equal(result.lead.email, "mike.chen@techflow.io");
  assert.equal(result.lead.seniority, "director");
  assert.equal(result.meta.credits_used, 1);

  // Nothing the API answered is dropped: the stored record as the API gives it, field for field.
  const stored = await client.enrichments.get(result.id);
  assert.deepEqual(stored, await rawGet("MAIN", `/v1/enrichments/${result.id}`));
  assert.deepEqual(stored, result);
  assert.ok("icp_breakdown" in result.lead && "degraded" in result.meta);
});

test("an idempotency key given by the caller answers a repeat once and charges it once", async () => {
  const client = new Leadmesh();
  const before = (await client.credits.get()).balance;
  const key = `sdk-test-${Date.now()}`;
  const first = await client.enrich.lead({ email: "ana@techflow.io" }, { idempotencyKey: key });
  const again = await client.enrich.lead({ email: "ana@techflow.io" }, { idempotencyKey: key });
  assert.equal(again.id, first.id);
  assert.equal((await client.credits.get()).balance, before - 1);
});

test("csvRow and its alias csv_row answer one row of an enriched file", async () => {
  const client = new Leadmesh();
  const row = await client.enrich.csvRow({ email: "lena@techflow.io", row_number: 3, total_rows: 5, row_ref: "crm-7" });
  assert.equal(row.csv_row.row_id, 3);
  assert.equal(row.csv_row.row_ref, "crm-7");
  assert.equal(row.csv_row.input_email, "lena@techflow.io");
  assert.equal(row.csv_row.enriched_seniority, "vp");
  assert.equal(row.meta.row_number, 3);
  assert.equal(row.meta.total_rows, 5);
  const same = await client.enrich.csv_row({ email: "lena@techflow.io" });
  assert.equal(same.csv_row.row_id, 1);
  assert.equal(same.csv_row.enriched_title, row.csv_row.enriched_title);
});

test("a company alone answers its best-fit contacts", async () => {
  const client = new Leadmesh();
  const result = await client.enrich.lead({ domain: "techflow.io", max_contacts: 2 });
  assert.equal(result.lead.company_domain, "techflow.io");
  assert.equal(result.contacts.length, 2);
  assert.ok(result.contacts.every((contact) => contact.email.endsWith("@techflow.io")));
});
