// ICP: the profile as a form; a live preview scoring a sample lead as you edit; Save (a new
// version, with If-Match: a clear message when someone else saved first); the version history
// with what changed, and restoring an old version.

import { ApiError, type IcpProfile, type IcpProfileIn, api } from "../api";
import { field, fmtTime, h, replace, status, uid } from "../dom";
import { onLeave } from "../lifecycle";

const SENIORITIES = ["entry", "senior", "manager", "director", "vp", "partner", "c_level", "owner"];
const DEPARTMENTS = ["sales", "marketing", "revenue_operations", "engineering", "product", "finance", "hr", "operations", "it", "legal", "customer_success", "executive"];
const SIZES = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+"];
const REVENUES = ["$0-$1M", "$1M-$10M", "$10M-$25M", "$25M-$50M", "$50M-$100M", "$100M-$250M", "$250M-$500M", "$500M-$1B", "$1B+"];
const SECTIONS: Record<keyof IcpProfileIn, string> = {
  seniorities: "seniorities",
  departments: "departments",
  title_keywords: "title keywords",
  company_sizes: "company sizes",
  industries: "industries",
  revenues: "revenue ranges",
  countries: "countries",
  technologies: "technologies",
  competitors: "competitors",
  exclusions: "exclusions",
  tiers: "tiers",
  intent_boost_max: "intent boost",
};

export function profileIn(profile: IcpProfile): IcpProfileIn {
  const { version: _v, is_default: _d, created_at: _c, livemode: _l, ...rest } = profile;
  return structuredClone(rest);
}

/** The sections of the profile that differ between two versions. */
export function changes(older: IcpProfileIn, newer: IcpProfileIn): string[] {
  return (Object.keys(SECTIONS) as (keyof IcpProfileIn)[]).filter((k) => JSON.stringify(older[k]) !== JSON.stringify(newer[k])).map((k) => SECTIONS[k]);
}

const list = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);

function checkboxes(legend: string, choices: string[], selected: string[], onChange: (values: string[]) => void): HTMLFieldSetElement {
  const set = h(
    "fieldset",
    { class: "choices" },
    h("legend", {}, legend),
    choices.map((choice) => h("label", {}, h("input", { type: "checkbox", value: choice, checked: selected.includes(choice) }), ` ${choice.replace("_", " ")}`)),
  );
  set.addEventListener("change", () => onChange([...set.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value)));
  return set;
}

function number(label: string, value: number, min: number, max: number, onChange: (n: number) => void): HTMLElement {
  const input = h("input", { type: "number", min, max, step: 1, value, inputmode: "numeric" });
  input.addEventListener("input", () => {
    const n = Number(input.value);
    if (Number.isInteger(n) && n >= min && n <= max) onChange(n);
  });
  return field(label, input);
}

function words(label: string, values: string[], onChange: (values: string[]) => void, hint = "Separate with commas"): HTMLElement {
  const input = h("input", { type: "text", value: values.join(", "), autocomplete: "off" });
  input.addEventListener("input", () => onChange(list(input.value)));
  return field(label, input, hint);
}

function select(label: string, choices: string[], value: string, onChange: (v: string) => void): HTMLElement {
  const control = h("select", {}, h("option", { value: "" }, "(none)"), choices.map((c) => h("option", { value: c, selected: c === value }, c)));
  control.addEventListener("change", () => onChange(control.value));
  return field(label, control);
}

function profileForm(draft: IcpProfileIn): HTMLElement {
  const criterion = (legend: string, key: "seniorities" | "departments" | "company_sizes" | "revenues", choices: string[]) =>
    h(
      "div",
      { class: "criterion" },
      checkboxes(legend, choices, draft[key].values, (v) => (draft[key].values = v)),
      number(`${legend}: weight`, draft[key].weight, 0, 100, (n) => (draft[key].weight = n)),
    );
  const keywords = (label: string, key: "industries" | "technologies" | "title_keywords" | "countries") =>
    h(
      "div",
      { class: "criterion" },
      words(label, draft[key].values, (v) => (draft[key].values = v)),
      number(`${label}: weight`, draft[key].weight, 0, 100, (n) => (draft[key].weight = n)),
    );
  const ex = draft.exclusions;
  return h(
    "div",
    { class: "icp-form" },
    h(
      "fieldset",
      {},
      h("legend", {}, "Who you sell to"),
      criterion("Seniorities", "seniorities", SENIORITIES),
      criterion("Departments", "departments", DEPARTMENTS),
      keywords("Title keywords", "title_keywords"),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Companies you sell to"),
      criterion("Company sizes", "company_sizes", SIZES),
      criterion("Revenue ranges", "revenues", REVENUES),
      keywords("Industries", "industries"),
      keywords("Technologies", "technologies"),
      keywords("Countries", "countries"),
      words("Competitors (domains)", draft.competitors, (v) => (draft.competitors = v)),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Exclusions"),
      words("Excluded industries", ex.industries, (v) => (ex.industries = v)),
      words("Excluded title keywords", ex.title_keywords, (v) => (ex.title_keywords = v)),
      checkboxes("Excluded seniorities", SENIORITIES, ex.seniorities, (v) => (ex.seniorities = v)),
      words("Excluded company domains", ex.company_domains, (v) => (ex.company_domains = v)),
      words("Excluded countries", ex.countries, (v) => (ex.countries = v)),
      number("Exclusion penalty", ex.penalty, 0, 100, (n) => (ex.penalty = n)),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Tiers and intent"),
      number("High priority from score", draft.tiers.high_priority, 0, 100, (n) => (draft.tiers.high_priority = n)),
      number("Nurture from score", draft.tiers.nurture, 0, 100, (n) => (draft.tiers.nurture = n)),
      number("Most points recent intent adds", draft.intent_boost_max, 0, 30, (n) => (draft.intent_boost_max = n)),
    ),
  );
}

function previewPanel(draft: IcpProfileIn, form: HTMLElement): HTMLElement {
  const lead: Record<string, string> = {
    title: "VP of Sales",
    seniority: "vp",
    department: "sales",
    company_industry: "SaaS",
    company_size: "51-200",
    company_revenue: "$10M-$25M",
    country: "US",
    technologies: "",
  };
  const out = h("div", { "aria-live": "polite", class: "preview-out" });
  let timer: number | undefined;
  let sequence = 0;
  const rescore = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const mine = ++sequence;
      try {
        const body = { ...lead, technologies: list(lead.technologies) };
        const scored = await api.previewIcp(draft, body);
        if (mine !== sequence) return;
        replace(
          out,
          h("p", { class: "score" }, "Sample lead score: ", h("strong", { id: "preview-score" }, String(scored.icp_score)), ` / 100 (${scored.icp_tier.replace("_", " ")})`),
          h("ul", {}, scored.icp_breakdown.map((p) => h("li", {}, `${p.name}: ${p.points > 0 ? "+" : ""}${p.points}${p.detail ? ` (${p.detail})` : ""}`))),
        );
      } catch (problem) {
        if (mine === sequence) replace(out, h("p", { class: "error" }, problem instanceof ApiError ? problem.explanation : String(problem)));
      }
    }, 250);
  };
  onLeave(() => window.clearTimeout(timer));
  const text = (label: string, key: string) => {
    const input = h("input", { type: "text", value: lead[key], autocomplete: "off" });
    input.addEventListener("input", () => {
      lead[key] = input.value;
      rescore();
    });
    return field(label, input);
  };
  const choice = (label: string, key: string, choices: string[]) =>
    select(label, choices, lead[key], (v) => {
      lead[key] = v;
      rescore();
    });
  form.addEventListener("input", rescore);
  form.addEventListener("change", rescore);
  rescore();
  return h(
    "aside",
    { class: "card preview", "aria-labelledby": "preview-h" },
    h("h2", { id: "preview-h" }, "Live preview"),
    h("p", {}, "A sample lead, scored by the profile as you edit it (nothing is saved or charged)."),
    text("Sample title", "title"),
    choice("Sample seniority", "seniority", SENIORITIES),
    choice("Sample department", "department", DEPARTMENTS),
    text("Sample industry", "company_industry"),
    choice("Sample company size", "company_size", SIZES),
    choice("Sample revenue", "company_revenue", REVENUES),
    text("Sample country", "country"),
    text("Sample technologies", "technologies"),
    out,
  );
}

export async function icpPage(main: HTMLElement): Promise<void> {
  const [profile, versions] = await Promise.all([api.icp(), api.icpVersions()]);
  let current = profile;
  const draft = profileIn(profile);
  const form = profileForm(draft);
  const message = h("div", { role: "alert", class: "message" });
  const save = h("button", { type: "button", class: "primary" }, "Save");
  const versionLine = h("p", { id: "icp-version" });
  const history = h("section", { "aria-labelledby": "history-h" });
  const showVersion = () => replace(versionLine, `Version ${current.version}`, current.is_default ? " (the built-in default)" : ` saved ${fmtTime(current.created_at)}`);

  const renderHistory = (all: IcpProfile[]) => {
    const items = all.map((v, i) => {
      const older = all[i + 1];
      const changed = older ? changes(profileIn(older), profileIn(v)) : [];
      const restore = h("button", { type: "button", "aria-label": `Restore version ${v.version}` }, "Restore");
      restore.addEventListener("click", () => void store(profileIn(v), `Restored version ${v.version}`));
      return h(
        "li",
        {},
        h("strong", {}, `Version ${v.version}`),
        ` — ${fmtTime(v.created_at)}${v.is_default ? " — the default" : ""}: `,
        older ? (changed.length ? `changed ${changed.join(", ")}` : "no change") : "first version",
        v.version === current.version ? h("em", {}, " (current)") : restore,
      );
    });
    replace(history, h("h2", { id: "history-h" }, "Version history"), h("ol", { class: "history" }, items));
  };

  async function store(body: IcpProfileIn, done: string): Promise<void> {
    save.disabled = true;
    replace(message);
    try {
      const saved = await api.saveIcp(body, current.version);
      const kept = saved.version === current.version;
      current = saved;
      showVersion();
      replace(message, h("p", { class: "ok" }, kept ? "Nothing changed: the profile stays at the same version." : `${done}: now version ${saved.version}.`));
      renderHistory(await api.icpVersions());
      if (body !== draft) {
        await icpPage(main);
        status(`${done}: now version ${saved.version}.`);
      }
    } catch (problem) {
      if (problem instanceof ApiError && problem.code === "ICP_VERSION_CONFLICT") {
        const reload = h("button", { type: "button" }, "Load the latest version");
        reload.addEventListener("click", () => void icpPage(main));
        replace(
          message,
          h("p", { class: "error" }, `Someone else saved the profile first: you were editing version ${current.version}, and it has changed since. Your edits are not saved. Load the latest version and make them again.`),
          reload,
        );
      } else {
        replace(message, h("p", { class: "error" }, problem instanceof ApiError ? problem.explanation : String(problem)));
      }
    } finally {
      save.disabled = false;
    }
  }

  save.addEventListener("click", () => void store(draft, "Saved"));
  showVersion();
  renderHistory(versions);
  const formId = uid("icp");
  form.id = formId;
  replace(
    main,
    h("h1", {}, "ICP"),
    versionLine,
    h("div", { class: "icp-layout" }, h("div", {}, form, h("div", { class: "actions" }, save), message), previewPanel(draft, form)),
    history,
  );
}
