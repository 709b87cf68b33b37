/** CSV jobs: listed across pages, one job, cancelling one, and its enriched file. */
import type { RequestOptions, Transport } from "./core.js";
import type { Job, JobStatus } from "./types.js";
export declare const TERMINAL: ReadonlySet<JobStatus>;
export interface ListOptions extends RequestOptions {
    /** Items fetched per request (1-100). */
    pageSize?: number;
}
export interface DownloadOptions extends RequestOptions {
    /** Node: stream the file to this path (and resolve to it) instead of resolving to its text. */
    output?: string;
}
export declare class Jobs {
    private readonly transport;
    constructor(transport: Transport);
    /**
     * Every job of the account, newest first, fetching pages as the loop goes:
     * `for await (const job of client.jobs.list())`.
     */
    list(options?: ListOptions): AsyncGenerator<Job, void>;
    /** A job's state, row counts, progress and first row issues. */
    get(id: string, options?: RequestOptions): Promise<Job>;
    /** Cancels a job (ConflictError once it has ended); resolves to the cancelled job. */
    cancel(id: string, options?: RequestOptions): Promise<Job>;
    /** The enriched CSV of a job that has ended (ConflictError before): its text, or the path it was written to. */
    download(id: string, options?: DownloadOptions): Promise<string>;
}
/** The file's text, or the path it was written to. */
export declare function readResult(response: Response, output: string | undefined): Promise<string>;
