/** CSV jobs: listed across pages, one job, cancelling one, and its enriched file. */

import type { RequestOptions, Transport } from "./core.js";
import { writeBody } from "./files.js";
import { everyItem } from "./pages.js";
import type { Job, JobStatus } from "./types.js";

export const TERMINAL: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);

export interface ListOptions extends RequestOptions {
  /** Items fetched per request (1-100). */
  pageSize?: number;
}

export interface DownloadOptions extends RequestOptions {
  /** Node: stream the file to this path (and resolve to it) instead of resolving to its text. */
  output?: string;
}

export class Jobs {
  constructor(private readonly transport: Transport) {}

  /**
   * Every job of the account, newest first, fetching pages as the loop goes:
   * `for await (const job of client.jobs.list())`.
   */
  list(options: ListOptions = {}): AsyncGenerator<Job, void> {
    const { pageSize, ...request } = options;
    return everyItem(async (pageToken) => {
      const page = await this.transport.json<{ jobs: Job[]; next_page_token: string | null }>({
        ...request,
        method: "GET",
        path: "/v1/jobs",
        query: { page_size: pageSize, page_token: pageToken },
      });
      return { items: page.jobs, next: page.next_page_token };
    });
  }

  /** A job's state, row counts, progress and first row issues. */
  get(id: string, options: RequestOptions = {}): Promise<Job> {
    return this.transport.json<Job>({ ...options, method: "GET", path: `/v1/jobs/${encodeURIComponent(id)}` });
  }

  /** Cancels a job (ConflictError once it has ended); resolves to the cancelled job. */
  cancel(id: string, options: RequestOptions = {}): Promise<Job> {
    return this.transport.json<Job>({ ...options, method: "DELETE", path: `/v1/jobs/${encodeURIComponent(id)}` });
  }

  /** The enriched CSV of a job that has ended (ConflictError before): its text, or the path it was written to. */
  async download(id: string, options: DownloadOptions = {}): Promise<string> {
    const { output, ...request } = options;
    const answer = await this.transport.send({
      ...request,
      method: "GET",
      path: `/v1/jobs/${encodeURIComponent(id)}/result.csv`,
      headers: { Accept: "text/csv", ...(request.headers ?? {}) },
    });
    return answer.read((response) => readResult(response, output));
  }
}

/** The file's text, or the path it was written to. */
export async function readResult(response: Response, output: string | undefined): Promise<string> {
  if (output === undefined) return response.text();
  await writeBody(response, output);
  return output;
}
