/**
 * Enrichment: one lead, one CSV-shaped row, a CSV file (answered at once when small, otherwise a job
 * polled until it ends, with progress), and stored records.
 */
import type { IdempotentOptions, RequestOptions, Transport } from "./core.js";
import { type CsvInput } from "./files.js";
import { type Jobs } from "./jobs.js";
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
export declare class Enrich {
    #private;
    private readonly transport;
    private readonly jobs;
    constructor(transport: Transport, jobs: Jobs);
    /** Enriches and scores one lead: an email, a name + company, a company or domain alone, or a LinkedIn URL. */
    lead(input: LeadInput, options?: IdempotentOptions): Promise<LeadAnswer>;
    /** The same enrichment, answered as one row of an enriched CSV. */
    csvRow(input: CsvRowInput, options?: IdempotentOptions): Promise<CsvRowAnswer>;
    /** `csvRow`, spelled as the API's path. */
    csv_row(input: CsvRowInput, options?: IdempotentOptions): Promise<CsvRowAnswer>;
    /** Uploads a CSV; see `CsvOptions`. */
    csv(input: CsvInput, options?: CsvOptions): Promise<CsvUpload>;
}
/** Rows done: every row the job has settled, whatever became of it. */
export declare function progressOf(job: Job): CsvProgress;
export declare class Enrichments {
    private readonly transport;
    constructor(transport: Transport);
    /** A stored enrichment record, by its id (`ev_...`). */
    get(id: string, options?: RequestOptions): Promise<LeadAnswer>;
}
