/** The client: `new Leadmesh(apiKey?, { baseURL, timeout, maxRetries })` and its resources. */
import { CreditsResource, Icp, Signals } from "./account.js";
import { Transport } from "./core.js";
import { Enrich, Enrichments } from "./enrich.js";
import { Jobs } from "./jobs.js";
import { Webhooks } from "./webhooks.js";
export class Leadmesh {
    enrich;
    enrichments;
    jobs;
    icp;
    signals;
    credits;
    webhooks;
    /** Where requests go, after the defaults were applied. */
    baseURL;
    /**
     * @param apiKey `lm_live_...`; `LEADMESH_API_KEY` (Node) when omitted. Throws when there is none.
     * @param options `baseURL` (`LEADMESH_BASE_URL`, then http://127.0.0.1:8080), `timeout` (ms per
     *   attempt, 60 s), `maxRetries` (2).
     */
    constructor(apiKey, options = {}) {
        const transport = new Transport(apiKey ?? undefined, options);
        this.baseURL = transport.baseURL;
        this.jobs = new Jobs(transport);
        this.enrich = new Enrich(transport, this.jobs);
        this.enrichments = new Enrichments(transport);
        this.icp = new Icp(transport);
        this.signals = new Signals(transport);
        this.credits = new CreditsResource(transport);
        this.webhooks = new Webhooks(transport);
    }
}
