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
export class LeadmeshError extends Error {
  /** The HTTP status; undefined when there was no answer. */
  readonly status: number | undefined;
  /** The stable reason to branch on, e.g. `INSUFFICIENT_CREDITS`. */
  readonly code: string | undefined;
  /** The answer's `request_id` (or `X-Request-Id`): quote it when you report a problem. */
  readonly requestId: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.status = details.status;
    this.code = details.code;
    this.requestId = details.requestId;
  }
}

/** The API could not be reached, or the connection broke before an answer (after the retries). */
export class APIConnectionError extends LeadmeshError {}

/** No answer within the client's timeout (after the retries). */
export class APITimeoutError extends APIConnectionError {}

/** The API answered with an error status; `body` is its JSON (or text), `headers` its headers. */
export class APIStatusError extends LeadmeshError {
  declare readonly status: number;
  /** The error's class in the API's words, e.g. `rate_limited`. */
  readonly type: string | undefined;
  readonly headers: Headers;
  readonly body: unknown;

  constructor(message: string, details: ErrorDetails & { status: number }) {
    super(message, details);
    this.type = details.type;
    this.headers = details.headers ?? new Headers();
    this.body = details.body;
  }
}

/** 400, 405, 413, 415 or 422: the request itself is wrong; `field` names the input at fault when known. */
export class InvalidRequestError extends APIStatusError {
  get field(): string | undefined {
    const header = this.headers.get("x-error-field");
    if (header) return header;
    // A 422 VALIDATION_ERROR's message is "<field>: <problem>; ...".
    if (this.code !== "VALIDATION_ERROR") return undefined;
    const where = this.message.split(": ", 1)[0];
    return where && where !== "request" && !where.includes(" ") ? where : undefined;
  }
}

/** 401: no API key, or one that is unknown or revoked. */
export class AuthenticationError extends APIStatusError {}

/** 402: the account has too few credits; `balance` is what it has. */
export class InsufficientCreditsError extends APIStatusError {
  get balance(): number | undefined {
    return numberOrUndefined(this.headers.get("x-credits-remaining"));
  }
}

/** 403: the key may not do this. */
export class PermissionDeniedError extends APIStatusError {}

/** 404: no such record, job or route for this account. */
export class NotFoundError extends APIStatusError {}

/** 409: an idempotency key reused with another request, a stale `ifMatch`, a job that cannot change any more. */
export class ConflictError extends APIStatusError {}

/** 429: too many requests; `retryAfter` is the seconds the API asked to wait. */
export class RateLimitError extends APIStatusError {
  get retryAfter(): number | undefined {
    return retryAfterSeconds(this.headers.get("retry-after"));
  }
}

/** 5xx (or any other status): the API, or a service behind it, failed. */
export class APIError extends APIStatusError {}

const BY_STATUS: Record<number, typeof APIStatusError> = {
  400: InvalidRequestError,
  401: AuthenticationError,
  402: InsufficientCreditsError,
  403: PermissionDeniedError,
  404: NotFoundError,
  405: InvalidRequestError,
  409: ConflictError,
  413: InvalidRequestError,
  415: InvalidRequestError,
  422: InvalidRequestError,
  429: RateLimitError,
};

function numberOrUndefined(text: string | null): number | undefined {
  if (text === null || text.trim() === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** Seconds from a `Retry-After` header: a number of seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null, now: number = Date.now()): number | undefined {
  const seconds = numberOrUndefined(header);
  if (seconds !== undefined) return Math.max(0, seconds);
  if (!header) return undefined;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

/** The error of an answer with an error status, from its body (read here) and headers. */
export async function errorFromResponse(response: Response): Promise<APIStatusError> {
  const text = await response.text().catch(() => "");
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  const field = (name: string): string | undefined =>
    error && typeof error[name] === "string" ? (error[name] as string) : undefined;
  const status = response.status;
  const message = field("message") ?? (text.slice(0, 200) || `HTTP ${status}`);
  const Class = BY_STATUS[status] ?? APIError;
  return new Class(message, {
    status,
    code: field("code"),
    type: field("type"),
    requestId: field("request_id") ?? response.headers.get("x-request-id") ?? undefined,
    headers: response.headers,
    body,
  });
}
