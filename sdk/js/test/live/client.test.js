import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import DefaultLeadmesh, { Leadmesh, LeadmeshError, VERSION } from "../../dist/index.js";
import { setting } from "../support.js";

test("the default export is the client; key and base URL from LEADMESH_API_KEY and LEADMESH_BASE_URL", async () => {
  assert.equal(DefaultLeadmesh, Leadmesh);
  const client = new Leadmesh();
  assert.equal(client.baseURL, setting("LEADMESH_BASE_URL"));
  const result = await client.credits.get();
  assert.equal(typeof result.balance, "number");
});

test("without a key anywhere the constructor says how to give one", () => {
  const saved = process.env.LEADMESH_API_KEY;
  delete process.env.LEADMESH_API_KEY;
  try {
    assert.throws(
      () => new Leadmesh(),
      (error) =>
        error instanceof LeadmeshError && error.code === "API_KEY_MISSING" && /LEADMESH_API_KEY/.test(error.message),
    );
  } finally {
    process.env.LEADMESH_API_KEY = saved;
  }
});

test("VERSION is the package's version", () => {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  assert.equal(VERSION, manifest.version);
});
