// What the suites get from tests/sdk/test_js_sdk.py: the gateway (LEADMESH_BASE_URL), the main key
// (LEADMESH_API_KEY), one account's key per purpose, and the loopback servers it started.
import { Leadmesh } from "../dist/index.js";

export function setting(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these suites through tests/sdk/test_js_sdk.py`);
  return value;
}

/** The key of the account made for `purpose` (MAIN, JOBS, ACCOUNT, RETRY, BROKE, RATE, OTHER). */
export function key(purpose) {
  return setting(`LEADMESH_TEST_KEY_${purpose}`);
}

/** A client of the account made for `purpose`, on the gateway unless `baseURL` says otherwise. */
export function clientOf(purpose, options = {}) {
  return new Leadmesh(key(purpose), options);
}

export const EMAILS = ["mike.chen@techflow.io", "ana@techflow.io", "lena@techflow.io", "nobody@unknown-example.org"];

/** A CSV of `count` rows whose emails cycle through EMAILS (every fourth one unknown). */
export function csvOf(count) {
  return "email\n" + Array.from({ length: count }, (_, n) => `${EMAILS[n % 4]}\n`).join("");
}

/** The API's own JSON of a GET, fetched without the SDK. */
export async function rawGet(purpose, path) {
  const response = await fetch(setting("LEADMESH_BASE_URL") + path, {
    headers: { Authorization: `Bearer ${key(purpose)}` },
  });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
