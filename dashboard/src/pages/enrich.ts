// Enrich: one lead through a form, shown as a person reads it; and a CSV file (pages/upload.ts).

import { ApiError, type Lead, type LeadAnswer, api } from "../api";
import { field, fmtAge, h, replace } from "../dom";
import { uploadSection } from "./upload";

export const FIELD_GROUPS = ["person", "company", "email", "phone", "linkedin"] as const;
export const EMAIL_VERDICTS: Record<string, string> = {
  valid: "The mailbox exists and accepts mail.",
  invalid: "The address does not exist: mail to it would bounce.",
  risky: "Deliverable, but the server's answer leaves doubt (full mailbox, temporary failure).",
  "catch-all": "The domain accepts every address, so this one cannot be confirmed.",
  disposable: "A throwaway mailbox service.",
  "role-based": "A shared address (info@, sales@), not a person.",
  unknown: "The mail server gave no usable answer.",
};

export function fieldGroupChoices(legend: string, checked: (group: string) => boolean): HTMLFieldSetElement {
  return h(
    "fieldset",
    { class: "inline" },
    h("legend", {}, legend),
    FIELD_GROUPS.map((group) =>
      h("label", {}, h("input", { type: "checkbox", name: "fields", value: group, checked: checked(group) }), ` ${group}${group === "phone" ? " (11 credits a lead)" : ""}`),
    ),
  );
}

const text = (value: string | number | null | undefined) => (value === null || value === undefined || value === "" ? "—" : String(value));

function definition(term: string, value: Node | string): HTMLElement[] {
  return [h("dt", {}, term), h("dd", {}, value)];
}

export function leadCard(lead: Lead, heading: string): HTMLElement {
  const name = [lead.first_name, lead.last_name].filter(Boolean).join(" ");
  const verdict = lead.email_status;
  return h(
    "article",
    { class: "card lead" },
    h("h3", {}, heading),
    h(
      "dl",
      { class: "facts" },
      definition("Name", text(name)),
      definition("Email", text(lead.email)),
      definition(
        "Email verdict",
        verdict
          ? h("span", {}, h("span", { class: `badge verdict-${verdict}` }, verdict), " ", EMAIL_VERDICTS[verdict] ?? "")
          : "— (no email)",
      ),
      definition("Title", text(lead.title)),
      definition("Seniority", text(lead.seniority)),
      definition("Phone", text(lead.phone)),
      definition("LinkedIn", text(lead.linkedin_url)),
      definition("Company", text(lead.company_name)),
      definition("Domain", text(lead.company_domain)),
      definition("Industry", text(lead.company_industry)),
      definition("Employees", text(lead.company_size)),
      definition("Revenue", text(lead.company_revenue)),
    ),
    h(
      "section",
      {},
      h("h4", {}, "ICP score: ", lead.icp_score === null ? "not scored" : `${lead.icp_score} / 100`, lead.icp_tier ? ` (${lead.icp_tier.replace("_", " ")})` : ""),
      lead.icp_breakdown.length
        ? h(
            "table",
            { class: "breakdown" },
            h("caption", {}, "What the score is made of"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Signal"), h("th", { scope: "col" }, "Points"), h("th", { scope: "col" }, "Matched"))),
            h("tbody", {}, lead.icp_breakdown.map((p) => h("tr", {}, h("th", { scope: "row" }, p.name), h("td", {}, p.points > 0 ? `+${p.points}` : p.points), h("td", {}, text(p.detail))))),
          )
        : null,
    ),
    h(
      "section",
      {},
      h("h4", {}, "Intent signals"),
      lead.intent_signal_details.length
        ? h(
            "ul",
            { class: "signals" },
            lead.intent_signal_details.map((s) =>
              h("li", {}, h("strong", {}, s.name), ` — ${s.category ?? "intent"}, strength ${s.strength}, seen ${fmtAge(s.observed_at)}`, s.source ? ` (${s.source})` : "", s.evidence.length ? h("small", {}, ` ${s.evidence.join("; ")}`) : null),
            ),
          )
        : h("p", {}, "No buying-intent signals for this company."),
    ),
  );
}

function answerView(answer: LeadAnswer): HTMLElement {
  const meta = answer.meta;
  return h(
    "div",
    { class: "answer" },
    h("p", {}, answer.status === "completed" ? "Found." : "Not found: no provider knows this lead (no credits charged).", ` Credits used: ${meta.credits_used}.`, meta.demo ? " Demo data (the built-in demo world)." : "", meta.degraded.length ? ` Partial: ${meta.degraded.map((d) => d.component).join(", ")} did not answer.` : ""),
    answer.status === "completed" ? leadCard(answer.lead, "Lead") : null,
    answer.contacts?.length ? h("section", {}, h("h3", {}, "Best-fit contacts"), answer.contacts.map((c, i) => leadCard(c, `Contact ${i + 1}`))) : null,
  );
}

function leadForm(): HTMLElement {
  const inputs = {
    email: h("input", { type: "email", name: "email", autocomplete: "off" }),
    first_name: h("input", { type: "text", name: "first_name", autocomplete: "off" }),
    last_name: h("input", { type: "text", name: "last_name", autocomplete: "off" }),
    company: h("input", { type: "text", name: "company", autocomplete: "off" }),
    domain: h("input", { type: "text", name: "domain", autocomplete: "off" }),
    linkedin_url: h("input", { type: "url", name: "linkedin_url", autocomplete: "off" }),
  };
  const groups = fieldGroupChoices("Fields", (g) => g !== "phone");
  const skip = h("input", { type: "checkbox", name: "skip_icp" });
  const result = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "primary" }, "Enrich lead");
  const form = h(
    "form",
    { class: "card" },
    h("h2", {}, "One lead"),
    h("p", {}, "An email; or a name and a company; or a domain alone; or a LinkedIn URL."),
    h(
      "div",
      { class: "grid" },
      field("Email", inputs.email),
      field("First name", inputs.first_name),
      field("Last name", inputs.last_name),
      field("Company", inputs.company),
      field("Domain", inputs.domain),
      field("LinkedIn URL", inputs.linkedin_url),
    ),
    groups,
    h("label", {}, skip, " Skip ICP scoring"),
    h("div", {}, button),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body: Record<string, unknown> = {};
    for (const [name, input] of Object.entries(inputs)) if (input.value.trim()) body[name] = input.value.trim();
    if (!Object.keys(body).length) {
      replace(result, h("p", { class: "error", role: "alert" }, "Give an email, a name and a company, a domain or a LinkedIn URL."));
      return;
    }
    body.fields = [...groups.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value);
    body.skip_icp = skip.checked;
    button.disabled = true;
    replace(result, h("p", { class: "loading" }, "Enriching…"));
    try {
      replace(result, answerView(await api.enrichLead(body)));
    } catch (problem) {
      replace(result, h("p", { class: "error", role: "alert" }, problem instanceof ApiError ? problem.explanation : String(problem)));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export async function enrichPage(main: HTMLElement): Promise<void> {
  const credits = await api.credits();
  replace(main, h("h1", {}, "Enrich"), leadForm(), uploadSection(credits.balance));
}
