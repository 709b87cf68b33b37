// CSV files and jobs, with the batch worker running: small files come back at once, larger ones are
// jobs polled with progress, and a job's webhook reaches a receiver of our own and verifies.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { verifyWebhook } from "../../dist/index.js";
import { EMAILS, clientOf, csvOf, rawGet } from "../support.js";

const client = clientOf("JOBS");
const directory = await mkdtemp(join(tmpdir(), "leadmesh-sdk-"));

function lines(text) {
  return text.trimEnd().split(/\r?\n/);
}

test("a small file from a path comes back enriched at once, with one progress call", async () => {
  const path = join(directory, "small.csv");
  await writeFile(path, csvOf(4));
  const seen = [];
  const upload = await client.enrich.csv(path, { onProgress: ({ done, total }) => seen.push([done, total]) });
  assert.equal(upload.job.status, "succeeded");
  assert.equal(upload.job.file_name, "small.csv");
  assert.deepEqual(seen, [[4, 4]]);
  const rows = lines(upload.csv);
  assert.equal(rows.length, 5);
  assert.ok(rows[0].startsWith("email,"));
  assert.deepEqual(rows.slice(1).map((row) => row.split(",")[0]), EMAILS);
  assert.equal(upload.job.credits_used, 3); // the unknown one is free
});

test("mapping, fields and skipIcp reach the job, and output streams the file to a path", async () => {
  const output = join(directory, "mapped-enriched.csv");
  const upload = await client.enrich.csv(new TextEncoder().encode("Work Email,Other\nana@techflow.io,x\n"), {
    mapping: { email: "Work Email" },
    fields: ["person", "email"],
    skipIcp: true,
    output,
  });
  assert.equal(upload.csv, undefined);
  assert.equal(upload.output, output);
  assert.equal(upload.job.mapping.email, "Work Email");
  assert.deepEqual([...upload.job.fields].sort(), ["email", "person"]);
  assert.equal(upload.job.skip_icp, true);
  const rows = lines(await readFile(output, "utf8"));
  assert.equal(rows.length, 2);
  assert.ok(rows[1].startsWith("ana@techflow.io,x,"));
});

test("a large file is a job polled to its end with progress; its signed webhook verifies", async () => {
  const deliveries = [];
  const receiver = createServer((request, response) => {
    const pieces = [];
    request.on("data", (piece) => pieces.push(piece));
    request.on("end", () => {
      deliveries.push({ headers: request.headers, body: Buffer.concat(pieces) });
      response.end();
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  try {
    const webhookUrl = `http://127.0.0.1:${receiver.address().port}/hooks/leadmesh`;
    const progress = [];
    const upload = await client.enrich.csv(new Blob([csvOf(20)]), {
      fileName: "big.csv",
      webhookUrl,
      pollInterval: 50,
      onProgress: ({ done, total, job }) => progress.push({ done, total, status: job.status }),
    });
    const job = upload.job;
    assert.equal(job.status, "succeeded");
    assert.equal(job.counts.enriched, 15);
    assert.equal(job.counts.not_found, 5);
    assert.ok(progress.length >= 2, JSON.stringify(progress));
    assert.ok(progress.every(({ total }) => total === 20));
    assert.deepEqual(progress.at(-1), { done: 20, total: 20, status: "succeeded" });
    assert.ok(progress[0].done < 20, "the first look saw the job before its end");
    const dones = progress.map(({ done }) => done);
    assert.deepEqual(dones, [...dones].sort((a, b) => a - b), "progress never goes back");
    assert.equal(lines(upload.csv).length, 21);
    assert.equal(await client.jobs.download(job.id), upload.csv);

    for (let waited = 0; deliveries.length === 0; waited += 20) {
      assert.ok(waited < 30_000, "no webhook delivery within 30 s");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [delivery] = deliveries;
    const header = delivery.headers["leadmesh-signature"];
    const payload = JSON.parse(delivery.body.toString("utf8"));
    assert.equal(payload.job_id, job.id);
    assert.equal(payload.type, "job.completed");

    const { secret, header: headerName } = await client.webhooks.secret();
    assert.equal(headerName, "Leadmesh-Signature");
    assert.equal(await verifyWebhook(secret, header, delivery.body), true);
    assert.equal(await verifyWebhook(secret, header, delivery.body.toString("utf8")), true);
    assert.equal(await client.webhooks.verify(secret, header, new Uint8Array(delivery.body)), true);
    const tampered = Buffer.from(delivery.body.toString("utf8").replace('"succeeded"', '"failed"'));
    assert.equal(await verifyWebhook(secret, header, tampered), false);
    const { secret: otherSecret } = await clientOf("OTHER").webhooks.secret();
    assert.notEqual(otherSecret, secret);
    assert.equal(await verifyWebhook(otherSecret, header, delivery.body), false);
    const sentAt = Number(/t=(\d+)/.exec(header)[1]);
    assert.equal(await verifyWebhook(secret, header, delivery.body, 300, sentAt + 301), false, "too old");
    assert.equal(await verifyWebhook(secret, header, delivery.body, 300, sentAt + 299), true);
    assert.equal(await verifyWebhook(secret, undefined, delivery.body), false);
    assert.equal(await verifyWebhook(secret, "v1=abc", delivery.body), false);
  } finally {
    receiver.close();
  }
});

test("jobs.list iterates every page, newest first", async () => {
  const listed = [];
  for await (const job of client.jobs.list({ pageSize: 1 })) listed.push(job.id);
  const all = await rawGet("JOBS", "/v1/jobs?page_size=100");
  assert.deepEqual(listed, all.jobs.map((job) => job.id));
  assert.ok(listed.length >= 4, `${listed.length} jobs`); // the queued phase's one and three here
});
