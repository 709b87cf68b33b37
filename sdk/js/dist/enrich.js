/**
 * Enrichment: one lead, one CSV-shaped row, a CSV file (answered at once when small, otherwise a job
 * polled until it ends, with progress), and stored records.
 */
import { csvBlob } from "./files.js";
import { TERMINAL, readResult } from "./jobs.js";
const UPLOAD_TIMEOUT = 600_000;
export class Enrich {
    transport;
    jobs;
    constructor(transport, jobs) {
        this.transport = transport;
        this.jobs = jobs;
    }
    /** Enriches and scores one lead: an email, a name + company, a company or domain alone, or a LinkedIn URL. */
    lead(input, options = {}) {
        return this.transport.json({ ...options, method: "POST", path: "/v1/enrich/lead", json: input });
    }
    /** The same enrichment, answered as one row of an enriched CSV. */
    csvRow(input, options = {}) {
        return this.transport.json({ ...options, method: "POST", path: "/v1/enrich/csv_row", json: input });
    }
    /** `csvRow`, spelled as the API's path. */
    csv_row(input, options = {}) {
        return this.csvRow(input, options);
    }
    /** Uploads a CSV; see `CsvOptions`. */
    async csv(input, options = {}) {
        const { wait = true, onProgress, pollInterval = 1000, output } = options;
        const { blob, name } = await csvBlob(input, options.fileName);
        const form = new FormData();
        form.append("file", blob, name);
        if (options.fields)
            form.append("fields", options.fields.join(","));
        if (options.skipIcp !== undefined)
            form.append("skip_icp", String(options.skipIcp));
        if (options.webhookUrl)
            form.append("webhook_url", options.webhookUrl);
        if (options.mapping)
            form.append("mapping", JSON.stringify(options.mapping));
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
        const job = await answer.read(async (response) => (await response.json()));
        return wait ? this.#finish(job, options, pollInterval, output) : { job };
    }
    async #finish(job, options, pollInterval, output) {
        const request = requestOptions(options);
        let last = "";
        for (;;) {
            const progress = progressOf(job);
            const seen = `${progress.done}/${job.status}`;
            if (seen !== last)
                options.onProgress?.(progress);
            last = seen;
            if (TERMINAL.has(job.status))
                break;
            await new Promise((resolve) => setTimeout(resolve, pollInterval));
            job = await this.jobs.get(job.id, request);
        }
        const result = await this.jobs.download(job.id, { ...request, output });
        return output === undefined ? { job, csv: result } : { job, output: result };
    }
}
/** Rows done: every row the job has settled, whatever became of it. */
export function progressOf(job) {
    const { enriched, not_found, invalid_input, failed } = job.counts;
    const total = job.total_rows;
    return { done: Math.min(total, enriched + not_found + invalid_input + failed), total, job };
}
function requestOptions(options) {
    const { timeout, maxRetries, headers, signal } = options;
    return { timeout, maxRetries, headers, signal };
}
export class Enrichments {
    transport;
    constructor(transport) {
        this.transport = transport;
    }
    /** A stored enrichment record, by its id (`ev_...`). */
    get(id, options = {}) {
        return this.transport.json({
            ...options,
            method: "GET",
            path: `/v1/enrichments/${encodeURIComponent(id)}`,
        });
    }
}
