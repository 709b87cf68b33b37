// End-to-end checks of the dashboard in Debian's Chromium, driven by Playwright, against a
// running stack. `node e2e/dashboard.mjs <scenario>` with LEADMESH_E2E_BASE_URL (the gateway),
// LEADMESH_E2E_KEY (a live key with credits), LEADMESH_E2E_POOR_KEY (one with 5 credits left), LEADMESH_E2E_EMAIL (a lead the directory knows),
// LEADMESH_E2E_CSV (a CSV file of leads) and LEADMESH_E2E_ARTIFACTS (where screenshots go).
// tests/dashboard/test_dashboard.py runs every scenario. Exit 0 when the scenario passed.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.LEADMESH_E2E_BASE_URL ?? "http://127.0.0.1:8080";
const KEY = process.env.LEADMESH_E2E_KEY ?? "";
const ARTIFACTS = process.env.LEADMESH_E2E_ARTIFACTS ?? "artifacts";
const XSS = "<img src=x onerror=alert(1)>";
const TIMEOUT = 60_000;

async function signIn(page, key = KEY) {
  await page.goto(`${BASE}/app/`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function api(path, init = {}, key = KEY) {
  const headers = { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...(init.headers ?? {}) };
  return fetch(`${BASE}${path}`, { ...init, headers });
}

/** The key is in sessionStorage only: not in localStorage, a cookie or the URL; and every
 * control of the page has an accessible name (we find them by name). */
async function assertKeyKeptInSession(page, context) {
  const unnamed = await page.locator("input, select, textarea, button").evaluateAll((controls) =>
    controls
      .filter((c) => !(c.labels?.length || c.getAttribute("aria-label") || (c.tagName === "BUTTON" && c.textContent.trim())))
      .map((c) => c.outerHTML.slice(0, 120)),
  );
  assert.deepEqual(unnamed, [], "every control has a label");
  const stored = await page.evaluate(() => ({
    local: Object.keys(localStorage).map((k) => `${k}=${localStorage.getItem(k)}`).join("\n"),
    session: Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)).join("\n"),
    cookie: document.cookie,
  }));
  assert.ok(!stored.local.includes("lm_"), `no key in localStorage: ${stored.local}`);
  assert.equal(stored.cookie, "");
  assert.equal((await context.cookies()).length, 0, "no cookie at all");
  assert.ok(!page.url().includes(KEY.slice(8)), "the key is not in the URL");
  return stored.session;
}

const scenarios = {
  async signin(page, context) {
    await signIn(page, "lm_live_" + "x".repeat(32));
    await page.getByRole("alert").filter({ hasText: "not accepted" }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, "signin.png") });
    // By keyboard alone: the field has the focus, Enter signs in, Tab reaches the navigation.
    const field = page.getByLabel("API key");
    await field.fill("");
    assert.ok(await field.evaluate((input) => input === document.activeElement), "the API key field has the focus");
    await page.keyboard.type(KEY);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    for (const name of ["Overview", "Enrich", "Jobs", "ICP", "API keys"]) {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).waitFor();
    }
    await page.getByRole("img", { name: /Credits used per day/ }).waitFor();
    await page.getByText("Balance", { exact: true }).waitFor();
    // The page's heading has the focus; the navigation is before it.
    for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement?.textContent === "Enrich")); i++) {
      await page.keyboard.press("Shift+Tab");
    }
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Enrich", level: 1 }).waitFor();
    await page.getByRole("link", { name: "Overview" }).click();
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    const session = await assertKeyKeptInSession(page, context);
    assert.ok(session.includes(KEY), "the key is in sessionStorage");
    // The CSP forbids inline scripts and framing.
    const response = await page.request.get(`${BASE}/app/`);
    const csp = response.headers()["content-security-policy"];
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.ok(!csp.includes("unsafe-inline"), csp);
    return "overview";
  },

  async enrich(page, context) {
    await signIn(page);
    await page.getByRole("link", { name: "Enrich" }).click();
    await page.getByRole("heading", { name: "Enrich", level: 1 }).waitFor();
    await page.getByLabel("Email", { exact: true }).fill(process.env.LEADMESH_E2E_EMAIL);
    await page.getByRole("button", { name: "Enrich lead" }).click();
    await page.getByText("Email verdict").waitFor({ timeout: TIMEOUT });
    await page.getByRole("heading", { name: /ICP score: \d+ \/ 100/ }).waitFor();
    await page.getByRole("heading", { name: "Intent signals" }).waitFor();
    assert.ok(await page.locator(".badge[class*=verdict-]").first().isVisible(), "the verdict is a badge");
    await assertKeyKeptInSession(page, context);
    return "enrich";
  },

  async credits(page, context) {
    // 5 credits left; a lead with a phone number costs 11.
    await signIn(page, process.env.LEADMESH_E2E_POOR_KEY);
    await page.getByRole("link", { name: "Enrich" }).click();
    await page.getByLabel("Email", { exact: true }).fill(process.env.LEADMESH_E2E_EMAIL);
    await page.getByRole("checkbox", { name: /phone/ }).first().check();
    await page.getByRole("button", { name: "Enrich lead" }).click();
    await page.getByRole("alert").filter({ hasText: "Not enough credits: 6 more credits needed" }).waitFor();
    await assertKeyKeptInSession(page, context);
    return "credits";
  },

  async csv(page, context) {
    const dialogs = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    const text = readFileSync(process.env.LEADMESH_E2E_CSV, "utf8");
    const rows = text.trim().split("\n").length - 1;
    await signIn(page);
    await page.getByRole("link", { name: "Enrich" }).click();
    // Dropping a file on the zone reads it like choosing it.
    await page.getByText("Choose a file or drop it here").waitFor();
    const dropped = await page.evaluateHandle((content) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([content], "dropped.csv", { type: "text/csv" }));
      return transfer;
    }, text);
    await page.locator(".dropzone").dispatchEvent("drop", { dataTransfer: dropped });
    await page.getByText("dropped.csv", { exact: true }).waitFor();
    // Choosing one: a file named like markup is shown as text.
    await page.getByLabel("CSV file", { exact: true }).setInputFiles({ name: `${XSS}.csv`, mimeType: "text/csv", buffer: Buffer.from(text) });
    await page.getByText(`${XSS}.csv`, { exact: true }).waitFor();
    assert.equal(await page.getByLabel("Email", { exact: true }).last().inputValue(), "email", "the email column is mapped");
    await page.getByText(new RegExp(`Worst case: ${rows} credits for ${rows} rows`)).waitFor();
    // A correction: the last-name column is not used.
    await page.getByRole("table", { name: /Column mapping/ }).getByLabel("Last name").selectOption("");
    await page.getByRole("button", { name: "Start enrichment" }).click();
    const button = page.getByRole("button", { name: "Download result" });
    await button.waitFor({ timeout: 240_000 });
    const used = await page.getByText(/Columns used: /).textContent();
    assert.match(used, /Email ← email, First name ← first_name/);
    assert.ok(!used.includes("Last name"), `the correction was applied: ${used}`);
    const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
    const path = join(ARTIFACTS, "result.csv");
    await download.saveAs(path);
    const result = readFileSync(path, "utf8").trim().split("\n");
    assert.equal(result.length, rows + 1, "one result row per row");
    assert.match(result[0], /enriched_email_status/);
    assert.match(download.suggestedFilename(), /^[\w .-]+-enriched\.csv$/, "a safe file name");
    await page.screenshot({ path: join(ARTIFACTS, "enrich-csv.png"), fullPage: true });
    await page.getByRole("link", { name: "Jobs" }).click();
    await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
    await page.getByRole("rowheader", { name: `${XSS}.csv` }).first().waitFor();
    assert.equal(await page.locator("main img").count(), 0, "the file name's markup is not an element");
    await page.getByRole("button", { name: `Download the result of ${XSS}.csv` }).first().waitFor();
    assert.deepEqual(dialogs, [], "no script of the file name ran");
    await assertKeyKeptInSession(page, context);
    return "jobs";
  },

  async icp(page, context) {
    await signIn(page);
    await page.getByRole("link", { name: "ICP" }).click();
    await page.getByRole("heading", { name: "ICP", level: 1 }).waitFor();
    const version = Number((await page.locator("#icp-version").textContent()).match(/Version (\d+)/)[1]);
    const seniorities = page.getByRole("group", { name: "Seniorities", exact: true });
    assert.equal(await seniorities.getByRole("checkbox").count(), 8, "fixed lists are checkboxes");
    for (const group of ["Departments", "Company sizes", "Revenue ranges"]) {
      assert.ok((await page.getByRole("group", { name: group, exact: true }).getByRole("checkbox").count()) > 3, group);
    }
    const score = page.locator("#preview-score");
    await score.waitFor();
    const vp = seniorities.getByLabel("vp");
    const before = await score.textContent();
    await vp.setChecked(!(await vp.isChecked()));
    await page.getByLabel("Seniorities: weight").fill("60");
    await page.waitForFunction((old) => document.querySelector("#preview-score")?.textContent !== old, before);
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText(`now version ${version + 1}`).waitFor();
    await page.locator("#icp-version", { hasText: `Version ${version + 1}` }).waitFor();
    await page.getByRole("listitem").filter({ hasText: `Version ${version + 1}` }).filter({ hasText: "changed seniorities" }).waitFor();
    // Someone else saves meanwhile: the next save says so and stores nothing.
    const current = await (await api("/v1/icp")).json();
    const { version: _v, is_default: _d, created_at: _c, livemode: _l, ...profile } = current;
    profile.intent_boost_max = profile.intent_boost_max === 10 ? 11 : 10;
    assert.equal((await api("/v1/icp", { method: "PUT", body: JSON.stringify(profile) })).status, 200);
    await page.getByLabel("Exclusion penalty").fill("50");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Someone else saved the profile first").waitFor();
    assert.equal((await (await api("/v1/icp")).json()).version, version + 2, "the conflicting save stored nothing");
    await page.getByRole("button", { name: "Load the latest version" }).click();
    await page.locator("#icp-version", { hasText: `Version ${version + 2}` }).waitFor();
    await page.getByRole("button", { name: `Restore version ${version}` }).click();
    await page.locator("#icp-version", { hasText: `Version ${version + 3}` }).waitFor();
    const restored = await (await api("/v1/icp")).json();
    const old = await (await api(`/v1/icp?version=${version}`)).json();
    assert.deepEqual(restored.seniorities, old.seniorities, "the old version's content is back");
    await page.getByRole("heading", { name: "ICP", level: 1 }).waitFor();
    await page.locator("#preview-score").waitFor();
    await assertKeyKeptInSession(page, context);
    return "icp";
  },

  async keys(page, context) {
    await signIn(page);
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    await page.getByRole("rowheader", { name: new RegExp(KEY.slice(0, 16)) }).waitFor();
    await page.getByLabel("Key name").fill(XSS);
    await page.getByRole("button", { name: "Create key" }).click();
    const secretBox = page.getByLabel("New API key");
    await secretBox.waitFor();
    const secret = await secretBox.inputValue();
    assert.match(secret, /^lm_live_[0-9A-Za-z]{32}$/);
    await page.getByRole("button", { name: "Copy" }).waitFor();
    const row = page.locator(`tr[data-prefix="${secret.slice(0, 16)}"]`);
    await row.getByText(XSS, { exact: true }).waitFor();
    assert.equal(await page.locator("main img").count(), 0, "a key name's markup is not an element");
    assert.equal((await api("/v1/credits", {}, secret)).status, 200, "the new key works");
    await page.screenshot({ path: join(ARTIFACTS, "keys-created.png"), fullPage: true });
    await page.getByRole("button", { name: `Revoke ${secret.slice(0, 16)}` }).click();
    await row.getByText(/^revoked/).waitFor();
    assert.equal((await api("/v1/credits", {}, secret)).status, 401, "the revoked key no longer works");
    const stored = await assertKeyKeptInSession(page, context);
    assert.ok(!stored.includes(secret), "a created key is not stored anywhere");
    await page.screenshot({ path: join(ARTIFACTS, "keys.png"), fullPage: true });
    // After the other scenarios, the Overview has usage to show (the README's screenshot).
    await page.getByRole("link", { name: "Overview" }).click();
    await page.getByRole("img", { name: /Credits used per day/ }).waitFor();
    return "overview-used";
  },
};

async function main() {
  const name = process.argv[2];
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(", ")}`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.LEADMESH_E2E_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error" && !/401|409|Failed to load resource/.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  try {
    const shot = await scenario(page, context);
    assert.deepEqual(problems, [], "no script errors or CSP violations in the page");
    await page.screenshot({ path: join(ARTIFACTS, `${shot}.png`), fullPage: true });
    console.log(`${name}: passed`);
  } catch (error) {
    await page.screenshot({ path: join(ARTIFACTS, `${name}-failed.png`), fullPage: true }).catch(() => undefined);
    console.error(`${name}: failed at ${page.url()}\n${error.stack ?? error}\npage problems: ${problems.join("\n")}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await main();
