// Overview: balance, held credits, the free tier, usage per day and the latest jobs.

import { api } from "../api";
import { usageChart } from "../chart";
import { fmtTime, h, replace } from "../dom";
import { jobsTable } from "./jobs";

export async function overviewPage(main: HTMLElement): Promise<void> {
  const [credits, usage, jobs] = await Promise.all([api.credits(), api.usage(30), api.jobs(5)]);
  const free = credits.free_tier;
  const stat = (label: string, value: string | number, note?: string) =>
    h("div", { class: "stat" }, h("dt", {}, label), h("dd", {}, h("strong", {}, value), note ? h("small", {}, note) : null));
  replace(
    main,
    h("h1", {}, "Overview"),
    h(
      "dl",
      { class: "stats" },
      stat("Balance", credits.balance, "credits available"),
      stat("Held", credits.reserved, "credits held by running CSV jobs"),
      stat(
        "Free tier",
        `${free.monthly_credits} / month`,
        free.granted_this_period
          ? `granted for ${free.current_period}; next on ${fmtTime(free.next_grant_at)}`
          : `not yet granted for ${free.current_period}`,
      ),
    ),
    h("section", { "aria-labelledby": "usage-h" }, h("h2", { id: "usage-h" }, "Usage"), usageChart(usage)),
    h(
      "section",
      { "aria-labelledby": "latest-h" },
      h("h2", { id: "latest-h" }, "Latest jobs"),
      jobs.length ? jobsTable(jobs, { actions: false }) : h("p", {}, "No CSV jobs yet. Upload a file on the Enrich page."),
    ),
  );
}
