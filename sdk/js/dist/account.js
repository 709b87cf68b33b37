/** The account's ICP profile, first-party signals and credits. */
import { LeadmeshError } from "./errors.js";
import { everyItem } from "./pages.js";
export class Icp {
    transport;
    constructor(transport) {
        this.transport = transport;
    }
    /** The current profile, or a past `version`. */
    get(options = {}) {
        const { version, ...request } = options;
        return this.transport.json({ ...request, method: "GET", path: "/v1/icp", query: { version } });
    }
    /** Replaces the whole profile; resolves to the new version (the same one when nothing changed). */
    update(profile, options = {}) {
        const { ifMatch, ...request } = options;
        const headers = { ...(request.headers ?? {}) };
        if (ifMatch !== undefined)
            headers["If-Match"] = etag(ifMatch);
        return this.transport.json({ ...request, headers, method: "PUT", path: "/v1/icp", json: profile });
    }
    /** Every version of the profile, newest first, across pages. */
    versions(options = {}) {
        const { pageSize, ...request } = options;
        return everyItem(async (pageToken) => {
            const page = await this.transport.json({
                ...request,
                method: "GET",
                path: "/v1/icp/versions",
                query: { page_size: pageSize, page_token: pageToken },
            });
            return { items: page.versions, next: page.next_page_token };
        });
    }
}
function etag(version) {
    const text = String(version).trim();
    if (/^(W\/)?".*"$/.test(text) || text === "*")
        return text;
    if (!/^[0-9]+$/.test(text))
        throw new LeadmeshError(`ifMatch must be a profile version, got ${text}`);
    return `"${text}"`;
}
export class Signals {
    transport;
    constructor(transport) {
        this.transport = transport;
    }
    /** Records web activity from your own site (at most 1,000 events a call); rejected ones say why. */
    send(events, options = {}) {
        return this.transport.json({
            ...options,
            method: "POST",
            path: "/v1/signals/events",
            json: { events },
        });
    }
}
export class CreditsResource {
    transport;
    constructor(transport) {
        this.transport = transport;
    }
    /** Balance, credits held by running jobs, free-tier state and the newest ledger page. */
    get(options = {}) {
        const { pageSize, pageToken, ...request } = options;
        return this.transport.json({
            ...request,
            method: "GET",
            path: "/v1/credits",
            query: { page_size: pageSize, page_token: pageToken },
        });
    }
    /** Every ledger entry, newest first, across pages. */
    ledger(options = {}) {
        return everyItem(async (pageToken) => {
            const page = await this.get({ ...options, pageToken });
            return { items: page.ledger, next: page.next_page_token };
        });
    }
}
