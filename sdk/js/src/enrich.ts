/**
 * Enrichment: one lead, one CSV-shaped row, a CSV file (answered at once when small, otherwise a job
 * polled until it ends, with progress), and stored records.
 */

import type { IdempotentOptions, RequestOptions, Transport } from "./core.js";
import { type CsvInput, csvBlob } from "./files.js";
import { type Jobs, TERMINAL, readResult } from "./jobs.js";
import type { CsvRowAnswer, CsvRowInput, FieldGroup, Job, LeadAnswer, LeadInput } from "./types.js";

/** Rows done of the file's rows, and the job as last seen. */
export interface CsvProgress {
  done: number;
  total: number;
  job: Job;
}

export interface CsvOptions extends IdempotentOptions {
  /** Wait for a job to end and fetch its file (default true); false resolves once the file is accepted. */
  wait?: boolean;
  /** Called as rows get done (at least once, with done = total, when the file comes back). */
  onProgress?: (progress: CsvProgress) => void;
  /** Milliseconds between two looks at a running job (1 s by default). */
  pollInterval?: number;
  fields?: FieldGroup[];
  skipIcp?: boolean;
  /** Corrections to the detected columns: input field -> header, or null to leave a field unmapped. */
  mapping?: Record<string, string | null>;
  /** Told when the job ends (a signed POST; see verifyWebhook). */
  webhookUrl?: string;
  /** The file's name (a path's own name by default). */
  fileName?: string;
  /** Node: stream the enriched file to this path instead of keeping its text. */
  output?: string;
}

export interface CsvUpload {
  /** The job: ended when `wait` (or when the file was small enough to come back at once). */
  job: Job;
  /** The enriched CSV, once the job ended (unless `output` was given). */
  csv?: string;
  /** Where the enriched CSV was written, when `output` was given. */
  output?: string;
}

const UPLOAD_TIMEOUT = 600_000;

export class Enrich {
  constructor(
    private readonly transport: Transport,
    private readonly jobs: Jobs,
  ) {}

  /** Enriches and scores one lead: an email, a name + company, a company or domain alone, or a LinkedIn URL. */
  lead(input: LeadInput, options: IdempotentOptions = {}): Promise<LeadAnswer> {
    return this.transport.json<LeadAnswer>({ ...options, method: "POST", path: "/v1/enrich/lead", json: input });
  }

  /** The same enrichment, answered as one row of an enriched CSV. */
  csvRow(input: CsvRowInput, options: IdempotentOptions = {}): Promise<CsvRowAnswer> {
    return this.transport.json<CsvRowAnswer>({ ...options, method: "POST", path: "/v1/enrich/csv_row", json: input });
  }

  /** `csvRow`, spelled as the API's path. */
  csv_row(input: CsvRowInput, options: IdempotentOptions = {}): Promise<CsvRowAnswer> {
    return this.csvRow(input, options);
  }

  /** Uploads a CSV; see `CsvOptions`. */
  async csv(input: CsvInput, options: CsvOptions = {}): Promise<CsvUpload> {
    const { wait = true, onProgress, pollInterval = 1000, output } = options;
    const { blob, name } = await csvBlob(input, options.fileName);
    const form = new FormData();
    form.append("file", blob, name);
    if (options.fields) form.append("fields", options.fields.join(","));
    if (options.skipIcp !== undefined) form.append("skip_icp", String(options.skipIcp));
    if (options.webhookUrl) form.append("webhook_url", options.webhookUrl);
    if (options.mapping) form.append("mapping", JSON.stringify(options.mapping));
    const answer = await this.transport.send({
      method: "POST",
      path: "/v1/enrich/csv",
      body: form,
      idempotencyKey: options.idempotencyKey,
      timeout: options.timeout ?? Math.max(this.transport.timeout, UPLOAD_TIMEOUT),
      maxRetries: options.maxRetries,
      headers: options.headers,
      signal: options.signal,
    });
    if (answer.response.status !== 202) {
      // The file itself: the job has ended.
      const result = await answer.read((response) => readResult(response, output));
      const ended = await this.jobs.get(answer.response.headers.get("x-job-id") ?? "", requestOptions(options));
      onProgress?.(progressOf(ended));
      return output === undefined ? { job: ended, csv: result } : { job: ended, output: result };
    }
    const job = await answer.read(async (response) => (await response.json()) as Job);
    return wait ? this.#finish(job, options, pollInterval, output) : { job };
  }

  async #finish(job: Job, options: CsvOptions, pollInterval: number, output: string | undefined): Promise<CsvUpload> {
    const request = requestOptions(options);
    let last = "";
    for (;;) {
      const progress = progressOf(job);
      const seen = `${progress.done}/${job.status}`;
      if (seen !== last) options.onProgress?.(progress);
      last = seen;
      if (TERMINAL.has(job.status)) break;
      await new Promise((resolve) => setTimeout(resolve, pollInterval));
      job = await this.jobs.get(job.id, request);
    }
    const result = await this.jobs.download(job.id, { ...request, output });
    return output === undefined ? { job, csv: result } : { job, output: result };
  }
}

/** Rows done: every row the job has settled, whatever became of it. */
export function progressOf(job: Job): CsvProgress {
  const { enriched, not_found, invalid_input, failed } = job.counts;
  const total = job.total_rows;
  return { done: Math.min(total, enriched + not_found + invalid_input + failed), total, job };
}

function requestOptions(options: RequestOptions): RequestOptions {
  const { timeout, maxRetries, headers, signal } = options;
  return { timeout, maxRetries, headers, signal };
}

export class Enrichments {
  constructor(private readonly transport: Transport) {}

  /** A stored enrichment record, by its id (`ev_...`). */
  get(id: string, options: RequestOptions = {}): Promise<LeadAnswer> {
    return this.transport.json<LeadAnswer>({
      ...options,
      method: "GET",
      path: `/v1/enrichments/${encodeURIComponent(id)}`,
    });
  }
}
