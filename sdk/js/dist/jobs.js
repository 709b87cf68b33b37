/** CSV jobs: listed across pages, one job, cancelling one, and its enriched file. */
import { writeBody } from "./files.js";
import { everyItem } from "./pages.js";
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
export class Jobs {
    transport;
    constructor(transport) {
        this.transport = transport;
    }
    /**
     * Every job of the account, newest first, fetching pages as the loop goes:
     * `for await (const job of client.jobs.list())`.
     */
    list(options = {}) {
        const { pageSize, ...request } = options;
        return everyItem(async (pageToken) => {
            const page = await this.transport.json({
                ...request,
                method: "GET",
                path: "/v1/jobs",
                query: { page_size: pageSize, page_token: pageToken },
            });
            return { items: page.jobs, next: page.next_page_token };
        });
    }
    /** A job's state, row counts, progress and first row issues. */
    get(id, options = {}) {
        return this.transport.json({ ...options, method: "GET", path: `/v1/jobs/${encodeURIComponent(id)}` });
    }
    /** Cancels a job (ConflictError once it has ended); resolves to the cancelled job. */
    cancel(id, options = {}) {
        return this.transport.json({ ...options, method: "DELETE", path: `/v1/jobs/${encodeURIComponent(id)}` });
    }
    /** The enriched CSV of a job that has ended (ConflictError before): its text, or the path it was written to. */
    async download(id, options = {}) {
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
export async function readResult(response, output) {
    if (output === undefined)
        return response.text();
    await writeBody(response, output);
    return output;
}
