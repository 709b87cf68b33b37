// The dashboard's shell: sign in, the navigation and the page router (#/overview, ...).

import { ApiError, api, onRateLimitWait } from "./api";
import { field, h, replace, status } from "./dom";
import { leave } from "./lifecycle";
import { enrichPage } from "./pages/enrich";
import { icpPage } from "./pages/icp";
import { jobsPage } from "./pages/jobs";
import { keysPage } from "./pages/keys";
import { overviewPage } from "./pages/overview";
import { forgetKey, saveKey, savedKey } from "./session";

type Page = { path: string; title: string; render: (main: HTMLElement) => Promise<void> | void };

const PAGES: Page[] = [
  { path: "overview", title: "Overview", render: overviewPage },
  { path: "enrich", title: "Enrich", render: enrichPage },
  { path: "jobs", title: "Jobs", render: jobsPage },
  { path: "icp", title: "ICP", render: icpPage },
  { path: "keys", title: "API keys", render: keysPage },
];

const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
const account = document.getElementById("account") as HTMLElement;

onRateLimitWait((seconds) => status(`Too many requests: waiting ${seconds} s before retrying…`));

function signInPage(problem?: string): void {
  nav.hidden = true;
  replace(account);
  document.title = "Sign in · leadmesh";
  const input = h("input", { type: "password", name: "api-key", autocomplete: "off", required: true, spellcheck: "false" });
  const error = h("p", { class: "error", role: "alert" }, problem ?? "");
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste an API key of your account (lm_live_… or lm_test_…). It is kept in this browser tab only."),
    field("API key", input),
    error,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      error.textContent = "Enter an API key.";
      input.focus();
      return;
    }
    button.disabled = true;
    error.textContent = "";
    try {
      await api.credits(key);
      saveKey(key);
      go("#/overview");
    } catch (problem) {
      error.textContent =
        problem instanceof ApiError && problem.status === 401
          ? "That API key was not accepted: it is unknown, revoked or mistyped."
          : problem instanceof ApiError
            ? problem.explanation
            : String(problem);
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, form);
  input.focus();
}

function renderNav(current: string): void {
  replace(
    nav,
    h(
      "ul",
      {},
      PAGES.map((page) =>
        h("li", {}, h("a", { href: `#/${page.path}`, "aria-current": page.path === current ? "page" : null }, page.title)),
      ),
    ),
  );
  nav.hidden = false;
  const key = savedKey() ?? "";
  const signOut = h("button", { type: "button", class: "link" }, "Sign out");
  signOut.addEventListener("click", () => {
    forgetKey();
    go("#/signin");
  });
  replace(account, h("span", { class: "mono" }, `${key.slice(0, 16)}…`), " ", signOut);
}

let generation = 0;

async function route(): Promise<void> {
  leave();
  status("");
  const mine = ++generation;
  if (!savedKey()) {
    signInPage();
    return;
  }
  const path = location.hash.replace(/^#\/?/, "") || "overview";
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  renderNav(page.path);
  document.title = `${page.title} · leadmesh`;
  // Each visit renders into its own element: a slower visit left before it finished writes into
  // an element no longer on the page.
  const view = h("div", { class: "page" }, h("p", { class: "loading" }, "Loading…"));
  replace(main, view);
  try {
    await page.render(view);
    const heading = view.querySelector("h1");
    if (heading && mine === generation) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  } catch (problem) {
    if (mine !== generation) return;
    if (problem instanceof ApiError && problem.status === 401) {
      forgetKey();
      signInPage("Your API key is no longer accepted (revoked?). Sign in with another key.");
      return;
    }
    const message = problem instanceof ApiError ? problem.explanation : String(problem);
    replace(view, h("h1", {}, page.title), h("p", { class: "error", role: "alert" }, `Could not load this page: ${message}`));
  }
}

function go(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash; // the hashchange routes
}

window.addEventListener("hashchange", () => void route());
void route();
