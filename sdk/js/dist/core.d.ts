/**
 * The one way a request goes out: the key and client headers, a deadline per attempt, and retries
 * with exponential back-off and jitter on connection errors, timeouts, 429 (honouring `Retry-After`)
 * and 502/503/504. A POST is retried only with an `Idempotency-Key`, which the client adds itself
 * when the caller gave none, so a retried enrichment is charged once.
 */
export declare const DEFAULT_BASE_URL = "http://127.0.0.1:8080";
export declare const DEFAULT_TIMEOUT = 60000;
export declare const DEFAULT_MAX_RETRIES = 2;
export interface ClientOptions {
    /** Where the API is; `LEADMESH_BASE_URL` (Node), then http://127.0.0.1:8080. */
    baseURL?: string;
    /** Milliseconds to wait for an answer, per attempt (60 s by default). */
    timeout?: number;
    /** Retries after the first attempt (2 by default); 0 turns them off. */
    maxRetries?: number;
    /** Headers sent with every request. */
    defaultHeaders?: Record<string, string>;
    /** A `fetch` to use instead of the platform's. */
    fetch?: typeof fetch;
}
/** What one call may override. */
export interface RequestOptions {
    timeout?: number;
    maxRetries?: number;
    headers?: Record<string, string>;
    signal?: AbortSignal;
}
export interface IdempotentOptions extends RequestOptions {
    /** Retries with the same key are answered once (and charged once); one is made when not given. */
    idempotencyKey?: string;
}
type Query = Record<string, string | number | boolean | undefined | null>;
export interface Call extends RequestOptions {
    method: "GET" | "POST" | "PUT" | "DELETE";
    path: string;
    query?: Query;
    json?: unknown;
    body?: BodyInit;
    idempotencyKey?: string;
}
export declare class Transport {
    #private;
    readonly baseURL: string;
    readonly timeout: number;
    readonly maxRetries: number;
    constructor(apiKey: string | undefined, options?: ClientOptions);
    url(path: string, query?: Query): string;
    /** The answer's JSON. */
    json<T>(call: Call): Promise<T>;
    /** The successful answer, after the retries; an error status throws its error. */
    send(call: Call): Promise<Answer>;
}
/** A successful answer whose body is still to be read, by `read` (within the attempt's deadline). */
export interface Answer {
    response: Response;
    read<T>(body: (response: Response) => Promise<T>): Promise<T>;
}
/** Milliseconds before retry `attempt + 1`: 0.5 s doubling up to 8 s, less up to a quarter at random. */
export declare function backoff(attempt: number): number;
export declare function newIdempotencyKey(): string;
export {};
