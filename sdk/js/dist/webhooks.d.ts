/**
 * Verifying the webhooks of CSV jobs, with Web Crypto (browsers, Node 18+, edge runtimes).
 *
 * A delivery carries `Leadmesh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`,
 * keyed with the account's secret (`client.webhooks.secret()`); several `v1=` values may be present
 * (one matching is enough), other schemes are skipped.
 */
import type { RequestOptions, Transport } from "./core.js";
import type { WebhookSecret } from "./types.js";
export declare const SIGNATURE_HEADER = "Leadmesh-Signature";
/**
 * Whether `header` (the `Leadmesh-Signature` value) signs `body` (the raw request body, exactly as
 * received: not re-serialized JSON) with `secret`, at a time within `tolerance` seconds of `now`.
 */
export declare function verifyWebhook(secret: string, header: string | null | undefined, body: string | ArrayBuffer | ArrayBufferView, tolerance?: number, now?: number): Promise<boolean>;
export declare class Webhooks {
    private readonly transport;
    constructor(transport: Transport);
    /** The account's signing secret (`secret`), the header it signs (`header`) and the scheme. */
    secret(options?: RequestOptions): Promise<WebhookSecret>;
    /** `verifyWebhook`, as a method. */
    verify(secret: string, header: string | null | undefined, body: string | ArrayBuffer | ArrayBufferView, tolerance?: number): Promise<boolean>;
}
