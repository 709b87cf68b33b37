// No batch worker runs yet: an uploaded job stays queued.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConflictError } from "../../dist/index.js";
import { clientOf, csvOf } from "../support.js";

const client = clientOf("JOBS");

test("a large file without wait resolves to the queued job; its file is not ready; it cancels once", async () => {
  const upload = await client.enrich.csv(new Blob([csvOf(12)]), { wait: false, fileName: "queued.csv" });
  assert.equal(upload.csv, undefined);
  const job = upload.job;
  assert.match(job.id, /^job_/);
  assert.equal(job.status, "queued");
  assert.equal(job.total_rows, 12);
  assert.equal(job.file_name, "queued.csv");

  await assert.rejects(client.jobs.download(job.id), (error) => {
    assert.ok(error instanceof ConflictError, error);
    assert.equal(error.status, 409);
    assert.equal(error.code, "JOB_NOT_FINISHED");
    assert.match(error.message, /queued/);
    assert.ok(error.requestId);
    return true;
  });
  const cancelled = await client.jobs.cancel(job.id);
  assert.equal(cancelled.status, "cancelled");
  assert.equal((await client.jobs.get(job.id)).status, "cancelled");
  await assert.rejects(client.jobs.cancel(job.id), (error) => error instanceof ConflictError && error.status === 409);
});
