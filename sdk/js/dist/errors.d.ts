/**
 * The errors the client throws: one class per kind of failure, all under `LeadmeshError`.
 *
 * An error answer of the API is `{"error": {"type", "code", "message", "request_id"}}`; its class is
 * chosen by the HTTP status, and what the headers add is kept: the balance behind a 402
 * (`X-Credits-Remaining`), the `Retry-After` of a 429, the field a 400 is about (`X-Error-Field`).
 */
export interface ErrorDetails {
    status?: number;
    code?: string;
    requestId?: string;
    type?: string;
    headers?: Headers;
    body?: unknown;
    cause?: unknown;
}
/** Every error the client throws. */
export declare class LeadmeshError extends Error {
    /** The HTTP status; undefined when there was no answer. */
    readonly status: number | undefined;
    /** The stable reason to branch on, e.g. `INSUFFICIENT_CREDITS`. */
    readonly code: string | undefined;
    /** The answer's `request_id` (or `X-Request-Id`): quote it when you report a problem. */
    readonly requestId: string | undefined;
    constructor(message: string, details?: ErrorDetails);
}
/** The API could not be reached, or the connection broke before an answer (after the retries). */
export declare class APIConnectionError extends LeadmeshError {
}
/** No answer within the client's timeout (after the retries). */
export declare class APITimeoutError extends APIConnectionError {
}
/** The API answered with an error status; `body` is its JSON (or text), `headers` its headers. */
export declare class APIStatusError extends LeadmeshError {
    readonly status: number;
    /** The error's class in the API's words, e.g. `rate_limited`. */
    readonly type: string | undefined;
    readonly headers: Headers;
    readonly body: unknown;
    constructor(message: string, details: ErrorDetails & {
        status: number;
    });
}
/** 400, 405, 413, 415 or 422: the request itself is wrong; `field` names the input at fault when known. */
export declare class InvalidRequestError extends APIStatusError {
    get field(): string | undefined;
}
/** 401: no API key, or one that is unknown or revoked. */
export declare class AuthenticationError extends APIStatusError {
}
/** 402: the account has too few credits; `balance` is what it has. */
export declare class InsufficientCreditsError extends APIStatusError {
    get balance(): number | undefined;
}
/** 403: the key may not do this. */
export declare class PermissionDeniedError extends APIStatusError {
}
/** 404: no such record, job or route for this account. */
export declare class NotFoundError extends APIStatusError {
}
/** 409: an idempotency key reused with another request, a stale `ifMatch`, a job that cannot change any more. */
export declare class ConflictError extends APIStatusError {
}
/** 429: too many requests; `retryAfter` is the seconds the API asked to wait. */
export declare class RateLimitError extends APIStatusError {
    get retryAfter(): number | undefined;
}
/** 5xx (or any other status): the API, or a service behind it, failed. */
export declare class APIError extends APIStatusError {
}
/** Seconds from a `Retry-After` header: a number of seconds or an HTTP date. */
export declare function retryAfterSeconds(header: string | null, now?: number): number | undefined;
/** The error of an answer with an error status, from its body (read here) and headers. */
export declare function errorFromResponse(response: Response): Promise<APIStatusError>;
