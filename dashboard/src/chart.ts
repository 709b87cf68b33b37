// Credits used per day as stacked bars (single leads under CSV jobs), in SVG built element by
// element, with the same figures as a table for screen readers and keyboard users.

import type { Usage } from "./api";
import { h } from "./dom";

const SVG = "http://www.w3.org/2000/svg";
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

function svg(tag: string, attrs: Record<string, string | number>, ...children: (Element | string)[]): SVGElement {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

export function usageChart(usage: Usage): HTMLElement {
  const width = 720;
  const height = 200;
  const pad = { left: 40, bottom: 24, top: 8 };
  const days = usage.daily;
  const max = Math.max(1, ...days.map((d) => d.single_leads.credits + d.csv_jobs.credits));
  const slot = (width - pad.left) / Math.max(1, days.length);
  const scale = (credits: number) => (credits / max) * (height - pad.bottom - pad.top);
  const bars = days.map((day, index) => {
    const x = pad.left + index * slot + 2;
    const single = scale(day.single_leads.credits);
    const csv = scale(day.csv_jobs.credits);
    const base = height - pad.bottom;
    const label = `${day.date}: ${day.single_leads.credits} credits on single leads, ${day.csv_jobs.credits} on CSV jobs`;
    return svg(
      "g",
      {},
      svg("title", {}, label),
      svg("rect", { x, y: base - single, width: Math.max(1, slot - 4), height: single, class: "bar-single" }),
      svg("rect", { x, y: base - single - csv, width: Math.max(1, slot - 4), height: csv, class: "bar-csv" }),
    );
  });
  const axis = [0, max].map((value) =>
    svg("text", { x: pad.left - 6, y: height - pad.bottom - scale(value) + 4, "text-anchor": "end", class: "axis" }, String(value)),
  );
  const first = days[0]?.date ?? "";
  const last = days[days.length - 1]?.date ?? "";
  const dates = [
    svg("text", { x: pad.left, y: height - 6, class: "axis" }, first),
    svg("text", { x: width, y: height - 6, "text-anchor": "end", class: "axis" }, last),
  ];
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "usage-chart-title", class: "chart" },
    svg("title", { id: "usage-chart-title" }, `Credits used per day over the last ${usage.days} days`),
    svg("line", { x1: pad.left, y1: height - pad.bottom, x2: width, y2: height - pad.bottom, class: "baseline" }),
    ...axis,
    ...dates,
    ...bars,
  );
  const legend = h(
    "p",
    { class: "legend" },
    h("span", { class: "swatch swatch-single", "aria-hidden": "true" }),
    ` Single leads: ${count(usage.totals.single_leads.credits, "credit")}, ${count(usage.totals.single_leads.leads, "lead")} `,
    h("span", { class: "swatch swatch-csv", "aria-hidden": "true" }),
    ` CSV jobs: ${count(usage.totals.csv_jobs.credits, "credit")}, ${count(usage.totals.csv_jobs.leads, "row")}`,
  );
  const table = h(
    "details",
    {},
    h("summary", {}, "Show the figures as a table"),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, ["Day", "Single leads", "Their credits", "CSV rows", "Their credits"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        days.map((d) =>
          h("tr", {}, h("th", { scope: "row" }, d.date), h("td", {}, d.single_leads.leads), h("td", {}, d.single_leads.credits), h("td", {}, d.csv_jobs.leads), h("td", {}, d.csv_jobs.credits)),
        ),
      ),
    ),
  );
  const figure = h("figure", { class: "usage" }, h("figcaption", {}, `Credits used per day, last ${usage.days} days`), legend, table);
  figure.insertBefore(chart, legend);
  return figure;
}
