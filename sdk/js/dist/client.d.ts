/** The client: `new Leadmesh(apiKey?, { baseURL, timeout, maxRetries })` and its resources. */
import { CreditsResource, Icp, Signals } from "./account.js";
import { type ClientOptions } from "./core.js";
import { Enrich, Enrichments } from "./enrich.js";
import { Jobs } from "./jobs.js";
import { Webhooks } from "./webhooks.js";
export declare class Leadmesh {
    readonly enrich: Enrich;
    readonly enrichments: Enrichments;
    readonly jobs: Jobs;
    readonly icp: Icp;
    readonly signals: Signals;
    readonly credits: CreditsResource;
    readonly webhooks: Webhooks;
    /** Where requests go, after the defaults were applied. */
    readonly baseURL: string;
    /**
     * @param apiKey `lm_live_...`; `LEADMESH_API_KEY` (Node) when omitted. Throws when there is none.
     * @param options `baseURL` (`LEADMESH_BASE_URL`, then http://127.0.0.1:8080), `timeout` (ms per
     *   attempt, 60 s), `maxRetries` (2).
     */
    constructor(apiKey?: string | null, options?: ClientOptions);
}
