// API keys: the list (prefix, created, last used, live or test), create (the secret shown once,
// with a copy button) and revoke.

import { ApiError, type ApiKey, api } from "../api";
import { field, fmtTime, h, replace, status } from "../dom";
import { forgetKey } from "../session";

function keysTable(keys: ApiKey[], reload: () => Promise<void>): HTMLTableElement {
  return h(
    "table",
    { class: "keys" },
    h("thead", {}, h("tr", {}, ["Prefix", "Name", "Mode", "Status", "Created", "Last used", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    h(
      "tbody",
      {},
      keys.map((key) => {
        const actions = h("td", {});
        if (key.status === "active") {
          const revoke = h("button", { type: "button", "aria-label": `Revoke ${key.prefix}` }, "Revoke");
          revoke.addEventListener("click", async () => {
            if (key.current && !confirm("This is the key you are signed in with. Revoke it and sign out?")) return;
            revoke.disabled = true;
            try {
              await api.revokeKey(key.prefix);
              status(`Revoked ${key.prefix}.`);
              if (key.current) {
                forgetKey();
                location.hash = "#/signin";
                return;
              }
              await reload();
            } catch (problem) {
              status(problem instanceof ApiError ? problem.explanation : String(problem), "error");
              revoke.disabled = false;
            }
          });
          actions.append(revoke);
        }
        return h(
          "tr",
          { "data-prefix": key.prefix },
          h("th", { scope: "row", class: "mono" }, key.prefix, key.current ? h("small", {}, " (this session)") : null),
          h("td", {}, key.name || "—"),
          h("td", {}, h("span", { class: `badge mode-${key.mode}` }, key.mode)),
          h("td", {}, key.status === "revoked" ? `revoked ${fmtTime(key.revoked_at)}` : "active"),
          h("td", {}, fmtTime(key.created_at)),
          h("td", {}, fmtTime(key.last_used_at)),
          actions,
        );
      }),
    ),
  );
}

export async function keysPage(main: HTMLElement): Promise<void> {
  const list = h("div", {});
  const reload = async () => {
    replace(list, keysTable(await api.keys(), reload));
  };
  const name = h("input", { type: "text", maxlength: 200, autocomplete: "off" });
  const mode = h("select", {}, h("option", { value: "live" }, "live"), h("option", { value: "test" }, "test (demo data, free)"));
  const created = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary" }, "Create key");
  const form = h("form", { class: "card" }, h("h2", {}, "New key"), h("div", { class: "grid" }, field("Key name", name), field("Mode", mode)), button, created);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const key = await api.createKey(name.value.trim(), mode.value === "test" ? "test" : "live");
      const secret = h("input", { type: "text", readonly: true, value: key.secret, class: "mono secret" });
      const copy = h("button", { type: "button" }, "Copy");
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(key.secret);
          status("Copied the new key.");
        } catch {
          secret.select();
          status("Select the key and copy it (the clipboard is not available here).");
        }
      });
      replace(created, h("p", { class: "ok" }, `Created ${key.prefix}. Copy the key now: it is shown only once.`), field("New API key", secret), copy);
      name.value = "";
      await reload();
    } catch (problem) {
      replace(created, h("p", { class: "error", role: "alert" }, problem instanceof ApiError ? problem.explanation : String(problem)));
    } finally {
      button.disabled = false;
    }
  });
  await reload();
  replace(main, h("h1", {}, "API keys"), list, form);
}
