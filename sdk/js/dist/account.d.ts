/** The account's ICP profile, first-party signals and credits. */
import type { IdempotentOptions, RequestOptions, Transport } from "./core.js";
import type { ListOptions } from "./jobs.js";
import type { Credits, IcpProfile, IcpProfileInput, LedgerEntry, SignalsAnswer, WebEvent } from "./types.js";
export interface IcpUpdateOptions extends RequestOptions {
    /** Fail with ConflictError unless this is still the current version (a number or the ETag `"3"`). */
    ifMatch?: number | string;
}
export declare class Icp {
    private readonly transport;
    constructor(transport: Transport);
    /** The current profile, or a past `version`. */
    get(options?: RequestOptions & {
        version?: number;
    }): Promise<IcpProfile>;
    /** Replaces the whole profile; resolves to the new version (the same one when nothing changed). */
    update(profile: IcpProfileInput, options?: IcpUpdateOptions): Promise<IcpProfile>;
    /** Every version of the profile, newest first, across pages. */
    versions(options?: ListOptions): AsyncGenerator<IcpProfile, void>;
}
export declare class Signals {
    private readonly transport;
    constructor(transport: Transport);
    /** Records web activity from your own site (at most 1,000 events a call); rejected ones say why. */
    send(events: WebEvent[], options?: IdempotentOptions): Promise<SignalsAnswer>;
}
export declare class CreditsResource {
    private readonly transport;
    constructor(transport: Transport);
    /** Balance, credits held by running jobs, free-tier state and the newest ledger page. */
    get(options?: ListOptions & {
        pageToken?: string;
    }): Promise<Credits>;
    /** Every ledger entry, newest first, across pages. */
    ledger(options?: ListOptions): AsyncGenerator<LedgerEntry, void>;
}
