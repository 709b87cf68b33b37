// A small typed client of the public /v1 API: the dashboard speaks to nothing else.
// Every error becomes an ApiError with the API's code and message; a 402 carries how many
// credits are missing; a 429 is waited out (Retry-After) and retried.

import { savedKey } from "./session";

export type Source = { leads: number; credits: number };
export type Usage = { days: number; daily: { date: string; single_leads: Source; csv_jobs: Source }[]; totals: { single_leads: Source; csv_jobs: Source } };
export type Credits = {
  balance: number;
  reserved: number;
  free_tier: { monthly_credits: number; current_period: string; granted_this_period: boolean; next_grant_at: string };
};
export type IcpPoints = { name: string; points: number; detail: string | null };
export type IntentSignal = { name: string; category: string | null; strength: number; observed_at: string | null; source: string | null; evidence: string[] };
export type Lead = {
  email: string | null; email_status: string | null; first_name: string | null; last_name: string | null;
  title: string | null; seniority: string | null; company_name: string | null; company_domain: string | null;
  company_size: string | null; company_industry: string | null; company_revenue: string | null;
  phone: string | null; linkedin_url: string | null; icp_score: number | null; icp_tier: string | null;
  icp_signals: string[]; icp_breakdown: IcpPoints[]; intent_signals: string[]; intent_signal_details: IntentSignal[];
};
export type LeadAnswer = { id: string; status: "completed" | "not_found"; lead: Lead; contacts?: Lead[] | null; meta: { credits_used: number; confidence: number; demo: boolean; icp_profile_version: number | null; degraded: { component: string; reason: string }[] } };
export type Job = {
  id: string; status: "queued" | "running" | "succeeded" | "failed" | "cancelled"; file_name: string | null; total_rows: number;
  counts: { enriched: number; not_found: number; invalid_input: number; failed: number; pending: number };
  progress: number; credits_used: number; credits_reserved: number; mapping: Record<string, string>;
  created_at: string | null; completed_at: string | null; error: { code: string; message: string } | null; result_url: string;
};
export type Criterion = { values: string[]; weight: number };
export type IcpProfileIn = {
  seniorities: Criterion; departments: Criterion; title_keywords: Criterion; company_sizes: Criterion;
  industries: Criterion; revenues: Criterion; countries: Criterion; technologies: Criterion; competitors: string[];
  exclusions: { industries: string[]; title_keywords: string[]; seniorities: string[]; company_domains: string[]; countries: string[]; penalty: number };
  tiers: { high_priority: number; nurture: number }; intent_boost_max: number;
};
export type IcpProfile = IcpProfileIn & { version: number; is_default: boolean; created_at: string; livemode?: boolean };
export type ApiKey = { prefix: string; name: string; mode: "live" | "test"; status: "active" | "revoked"; created_at: string; last_used_at: string | null; revoked_at: string | null; current: boolean };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly missingCredits: number | null = null,
  ) {
    super(message);
  }

  /** What to show a person. */
  get explanation(): string {
    if (this.status === 402 && this.missingCredits !== null) {
      return `Not enough credits: ${this.missingCredits} more credit${this.missingCredits === 1 ? "" : "s"} needed. ${this.message}`;
    }
    if (this.status === 0) return `Cannot reach the leadmesh API: ${this.message}`;
    return this.message;
  }
}

const MAX_RETRIES = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let onWait: (seconds: number) => void = () => undefined;

/** Called with the seconds a 429 makes us wait, to tell the user. */
export function onRateLimitWait(callback: (seconds: number) => void): void {
  onWait = callback;
}

export async function request(path: string, init: RequestInit = {}, key: string | null = savedKey()): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key) headers.set("Authorization", `Bearer ${key}`);
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(path, { ...init, headers, credentials: "omit", cache: "no-store" });
    } catch (error) {
      throw new ApiError(0, "NETWORK", String(error));
    }
    if (response.status === 429 && attempt < MAX_RETRIES) {
      const seconds = Math.min(30, Math.max(1, Number(response.headers.get("Retry-After")) || 2 ** attempt));
      onWait(seconds);
      await sleep(seconds * 1000);
      continue;
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || "request failed";
  try {
    const body = await response.json();
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    /* not JSON: keep the status line */
  }
  let missing: number | null = null;
  if (response.status === 402) {
    const required = Number(response.headers.get("X-Credits-Required"));
    const remaining = Number(response.headers.get("X-Credits-Remaining"));
    if (required > 0 && Number.isFinite(remaining)) missing = Math.max(1, required - remaining);
  }
  return new ApiError(response.status, code, message, missing);
}

export async function json<T>(path: string, init: RequestInit = {}, key?: string | null): Promise<{ body: T; response: Response }> {
  const headers = new Headers(init.headers);
  if (init.body && typeof init.body === "string") headers.set("Content-Type", "application/json");
  headers.set("Accept", "application/json");
  const response = await request(path, { ...init, headers }, key);
  return { body: (await response.json()) as T, response };
}

export const api = {
  credits: (key?: string) => json<Credits>("/v1/credits?page_size=1", {}, key ?? savedKey()).then((r) => r.body),
  usage: (days = 30) => json<Usage>(`/v1/usage?days=${days}`).then((r) => r.body),
  jobs: (size = 50) => json<{ jobs: Job[] }>(`/v1/jobs?page_size=${size}`).then((r) => r.body.jobs),
  job: (id: string) => json<Job>(`/v1/jobs/${encodeURIComponent(id)}`).then((r) => r.body),
  cancelJob: (id: string) => json<Job>(`/v1/jobs/${encodeURIComponent(id)}`, { method: "DELETE" }).then((r) => r.body),
  jobResult: (id: string) => request(`/v1/jobs/${encodeURIComponent(id)}/result.csv`).then((r) => r.blob()),
  enrichLead: (body: Record<string, unknown>) =>
    json<LeadAnswer>("/v1/enrich/lead", { method: "POST", body: JSON.stringify(body) }).then((r) => r.body),
  enrichCsv: (form: FormData) => request("/v1/enrich/csv", { method: "POST", body: form }),
  icp: () => json<IcpProfile>("/v1/icp").then((r) => r.body),
  icpVersions: () => json<{ versions: IcpProfile[] }>("/v1/icp/versions?page_size=100").then((r) => r.body.versions),
  saveIcp: (profile: IcpProfileIn, version: number) =>
    json<IcpProfile>("/v1/icp", { method: "PUT", body: JSON.stringify(profile), headers: { "If-Match": `"${version}"` } }).then((r) => r.body),
  previewIcp: (profile: IcpProfileIn, lead: Record<string, unknown>) =>
    json<{ icp_score: number; icp_tier: string; icp_breakdown: IcpPoints[] }>("/v1/icp/preview", {
      method: "POST",
      body: JSON.stringify({ profile, lead }),
    }).then((r) => r.body),
  keys: () => json<{ keys: ApiKey[] }>("/v1/keys").then((r) => r.body.keys),
  createKey: (name: string, mode: "live" | "test") =>
    json<ApiKey & { secret: string }>("/v1/keys", { method: "POST", body: JSON.stringify({ name, mode }) }).then((r) => r.body),
  revokeKey: (prefix: string) => json<ApiKey>(`/v1/keys/${encodeURIComponent(prefix)}`, { method: "DELETE" }).then((r) => r.body),
};

/** Offers ``blob`` as a download named ``name`` (the key never goes in a URL). */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
