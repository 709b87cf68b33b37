// Enrich a CSV file: choose or drop it, correct the proposed column mapping, choose the options,
// see the worst-case cost against the balance, start, watch the progress, download the result.

import { ApiError, type Job, api, download } from "../api";
import { FIELD_LABELS, INPUT_FIELDS, type InputField, detectMapping, scanCsv } from "../columns";
import { field, h, replace, status, uid } from "../dom";
import { every, onLeave } from "../lifecycle";
import { fieldGroupChoices } from "./enrich";
import { downloadResult, resultName } from "./jobs";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

function progressView(job: Job): HTMLElement {
  const percent = Math.round(job.progress * 100);
  return h(
    "div",
    { class: "progress" },
    h("p", {}, `${job.file_name ?? job.id}: ${job.status}, ${percent}% — ${job.counts.enriched} enriched, ${job.counts.not_found} not found, ${job.counts.invalid_input} invalid, ${job.counts.failed} failed; ${job.credits_used} credits used.`),
    h("progress", { max: 100, value: percent, "aria-label": "Enrichment progress" }),
    Object.keys(job.mapping).length
      ? h("p", {}, "Columns used: ", Object.entries(job.mapping).map(([field, column]) => `${FIELD_LABELS[field as InputField] ?? field} ← ${column}`).join(", "))
      : null,
  );
}

export function uploadSection(balance: number): HTMLElement {
  const input = h("input", { type: "file", accept: ".csv,text/csv", name: "file" });
  const zone = h("div", { class: "dropzone" }, field("CSV file", input, "Choose a file or drop it here. UTF-8, with a header row."));
  const details = h("div", {});
  const section = h("section", { class: "card", "aria-labelledby": "csv-h" }, h("h2", { id: "csv-h" }, "A CSV file"), zone, details);
  let busy = false;

  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer?.files[0];
    if (file && !busy) void chosen(file);
  });
  input.addEventListener("change", () => {
    const file = input.files?.[0];
    if (file) void chosen(file);
  });

  async function chosen(file: File): Promise<void> {
    const { headers, rows } = scanCsv(await file.text());
    if (!headers.length) {
      replace(details, h("p", { class: "error", role: "alert" }, `${file.name} has no header row.`));
      return;
    }
    const proposed = detectMapping(headers);
    const selects = new Map<InputField, HTMLSelectElement>();
    const mappingRows = INPUT_FIELDS.map((name) => {
      const select = h("select", { id: uid("map") }, h("option", { value: "" }, "(not in the file)"), headers.map((c) => h("option", { value: c, selected: proposed[name] === c }, c)));
      selects.set(name, select);
      return h("tr", {}, h("th", { scope: "row" }, h("label", { for: select.id }, FIELD_LABELS[name])), h("td", {}, select));
    });
    const groups = fieldGroupChoices("Fields", (g) => g !== "phone");
    const skip = h("input", { type: "checkbox", name: "skip_icp" });
    const cost = h("p", { class: "cost", "aria-live": "polite" });
    const start = h("button", { type: "button", class: "primary" }, "Start enrichment");
    const outcome = h("div", { "aria-live": "polite" });
    const updateCost = () => {
      const phone = groups.querySelector<HTMLInputElement>('input[value="phone"]')?.checked;
      const worst = rows * (phone ? 11 : 1);
      replace(cost, `Worst case: ${worst} credits for ${rows} rows (only rows found are charged). Your balance: ${balance} credits.`);
      if (worst > balance) cost.append(h("strong", { class: "error" }, ` That is ${worst - balance} credits more than you have: rows past your balance will not be enriched.`));
    };
    groups.addEventListener("change", updateCost);
    updateCost();
    start.addEventListener("click", () => void run(file, proposed, selects, groups, skip, start, outcome));
    replace(
      details,
      h("p", {}, h("strong", { class: "file" }, file.name), ` — ${rows} rows, ${headers.length} columns.`),
      h("table", { class: "mapping" }, h("caption", {}, "Column mapping as read from the headers (correct it if a column was misread)"), h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Lead field"), h("th", { scope: "col" }, "Column of your file"))), h("tbody", {}, mappingRows)),
      groups,
      h("label", {}, skip, " Skip ICP scoring"),
      cost,
      start,
      outcome,
    );
  }

  async function run(file: File, proposed: Record<InputField, string | null>, selects: Map<InputField, HTMLSelectElement>, groups: HTMLElement, skip: HTMLInputElement, start: HTMLButtonElement, outcome: HTMLElement): Promise<void> {
    // Only the user's corrections are sent: the batch service's own detection (with its full
    // synonym table) maps the rest, and the progress shows the columns it used.
    const corrections: Record<string, string | null> = {};
    for (const [name, select] of selects) if (select.value !== (proposed[name] ?? "")) corrections[name] = select.value || null;
    const form = new FormData();
    form.append("file", file, file.name);
    if (Object.keys(corrections).length) form.append("mapping", JSON.stringify(corrections));
    form.append("fields", [...groups.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value).join(","));
    form.append("skip_icp", String(skip.checked));
    busy = true;
    start.disabled = true;
    replace(outcome, h("p", { class: "loading" }, `Uploading ${file.name}…`));
    // A small file is answered when done; meanwhile its job's progress is read from the job list.
    const since = Date.now() - 5000;
    let watching = true;
    onLeave(() => (watching = false));
    const watch = async () => {
      while (watching) {
        await new Promise((r) => setTimeout(r, 800));
        if (!watching) break;
        const job = (await api.jobs(5).catch(() => [])).find((j) => j.file_name === file.name && Date.parse(j.created_at ?? "") >= since);
        if (job && watching) replace(outcome, progressView(job));
      }
    };
    void watch();
    try {
      const response = await api.enrichCsv(form);
      if (response.status === 200) {
        const blob = await response.blob();
        watching = false;
        const id = response.headers.get("X-Job-Id") ?? "";
        finished(await api.job(id), outcome, blob);
      } else {
        const job = (await response.json()) as Job;
        watching = false;
        replace(outcome, progressView(job));
        every(1000, async () => {
          const now = await api.job(job.id);
          if (!TERMINAL.has(now.status)) {
            replace(outcome, progressView(now));
            return true;
          }
          finished(now, outcome, null);
          return false;
        });
      }
    } catch (problem) {
      watching = false;
      replace(outcome, h("p", { class: "error", role: "alert" }, problem instanceof ApiError ? problem.explanation : String(problem)));
    } finally {
      busy = false;
      start.disabled = false;
    }
  }

  return section;
}

function finished(job: Job, outcome: HTMLElement, blob: Blob | null): void {
  const button = h("button", { type: "button", class: "primary" }, "Download result");
  button.addEventListener("click", () => (blob ? download(blob, resultName(job)) : void downloadResult(job)));
  replace(outcome, progressView(job), job.status === "succeeded" ? button : h("p", { class: "error", role: "alert" }, job.error?.message ?? `The job ended ${job.status}.`));
  status(`${job.file_name ?? job.id}: ${job.status}.`);
}
