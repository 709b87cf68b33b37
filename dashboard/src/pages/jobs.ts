// Jobs: every CSV job with status, progress, counts and credits; cancel; download the result.
// The list is one request (refreshed while a job runs), never one per row.

import { ApiError, type Job, api, download } from "../api";
import { fmtTime, h, replace, status } from "../dom";
import { every } from "../lifecycle";

const ACTIVE = new Set(["queued", "running"]);

export function resultName(job: Job): string {
  const base = (job.file_name ?? "leads").replace(/\.csv$/i, "").replace(/[^\w .-]/g, "_").slice(0, 100) || "leads";
  return `${base}-enriched.csv`;
}

export async function downloadResult(job: Job): Promise<void> {
  try {
    status(`Downloading the result of ${job.file_name ?? job.id}…`);
    download(await api.jobResult(job.id), resultName(job));
    status(`Downloaded ${resultName(job)}.`);
  } catch (problem) {
    status(problem instanceof ApiError ? problem.explanation : String(problem), "error");
  }
}

export function jobsTable(jobs: Job[], options: { actions: boolean; onChange?: () => void }): HTMLTableElement {
  const header = ["File", "Status", "Progress", "Rows", "Enriched", "Not found", "Invalid", "Failed", "Credits", "Created"];
  if (options.actions) header.push("Actions");
  return h(
    "table",
    { class: "jobs" },
    h("thead", {}, h("tr", {}, header.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, jobs.map((job) => jobRow(job, options))),
  );
}

function jobRow(job: Job, options: { actions: boolean; onChange?: () => void }): HTMLTableRowElement {
  const name = job.file_name ?? job.id;
  const percent = Math.round(job.progress * 100);
  const cells = [
    h("th", { scope: "row", class: "file" }, name),
    h("td", {}, h("span", { class: `badge job-${job.status}` }, job.status), job.error ? h("small", { class: "error" }, ` ${job.error.message}`) : null),
    h("td", {}, h("progress", { max: 100, value: percent, "aria-label": `Progress of ${name}` }), ` ${percent}%`),
    h("td", {}, job.total_rows),
    h("td", {}, job.counts.enriched),
    h("td", {}, job.counts.not_found),
    h("td", {}, job.counts.invalid_input),
    h("td", {}, job.counts.failed),
    h("td", {}, job.credits_used, ACTIVE.has(job.status) && job.credits_reserved ? h("small", {}, ` (${job.credits_reserved} held)`) : null),
    h("td", {}, fmtTime(job.created_at)),
  ];
  if (options.actions) {
    const actions = h("td", { class: "actions" });
    if (job.status === "succeeded") {
      const button = h("button", { type: "button", "aria-label": `Download the result of ${name}` }, "Download");
      button.addEventListener("click", () => void downloadResult(job));
      actions.append(button);
    }
    if (ACTIVE.has(job.status)) {
      const button = h("button", { type: "button", "aria-label": `Cancel ${name}` }, "Cancel");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await api.cancelJob(job.id);
          status(`Cancelled ${name}.`);
          options.onChange?.();
        } catch (problem) {
          status(problem instanceof ApiError ? problem.explanation : String(problem), "error");
          button.disabled = false;
        }
      });
      actions.append(button);
    }
    cells.push(actions);
  }
  return h("tr", { "data-job": job.id }, cells);
}

export async function jobsPage(main: HTMLElement): Promise<void> {
  const list = h("div", {});
  const refresh = async (): Promise<boolean> => {
    const jobs = await api.jobs(100);
    replace(list, jobs.length ? jobsTable(jobs, { actions: true, onChange: () => void refresh() }) : h("p", {}, "No CSV jobs yet."));
    return jobs.some((job) => ACTIVE.has(job.status));
  };
  replace(main, h("h1", {}, "Jobs"), list);
  if (await refresh()) every(2000, refresh);
}
