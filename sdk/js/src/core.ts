/**
 * The one way a request goes out: the key and client headers, a deadline per attempt, and retries
 * with exponential back-off and jitter on connection errors, timeouts, 429 (honouring `Retry-After`)
 * and 502/503/504. A POST is retried only with an `Idempotency-Key`, which the client adds itself
 * when the caller gave none, so a retried enrichment is charged once.
 */

import {
  APIConnectionError,
  APITimeoutError,
  LeadmeshError,
  errorFromResponse,
  retryAfterSeconds,
} from "./errors.js";
import { env, isNode } from "./platform.js";
import { VERSION } from "./version.js";

export const DEFAULT_BASE_URL = "http://127.0.0.1:8080";
export const DEFAULT_TIMEOUT = 60_000;
export const DEFAULT_MAX_RETRIES = 2;
const RETRIED_STATUSES = new Set([429, 502, 503, 504]);
const MAX_RETRY_AFTER = 60;

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

export class Transport {
  readonly baseURL: string;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly #apiKey: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;

  constructor(apiKey: string | undefined, options: ClientOptions = {}) {
    const key = apiKey ?? env("LEADMESH_API_KEY");
    if (!key) {
      throw new LeadmeshError(
        "no API key: pass one, new Leadmesh(apiKey), or set LEADMESH_API_KEY (`leadmesh accounts create` makes one)",
        { code: "API_KEY_MISSING" },
      );
    }
    this.#apiKey = key;
    this.baseURL = (options.baseURL ?? env("LEADMESH_BASE_URL") ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    if (!(this.timeout > 0) || !(this.maxRetries >= 0)) {
      throw new LeadmeshError("timeout must be > 0 ms and maxRetries >= 0");
    }
    const client = `leadmesh-js/${VERSION}`;
    // Browsers forbid setting User-Agent; Node sends ours.
    this.#headers = { "X-Leadmesh-Client": client, ...(isNode() ? { "User-Agent": client } : {}) };
    Object.assign(this.#headers, options.defaultHeaders ?? {});
    const platformFetch = options.fetch ?? globalThis.fetch;
    if (typeof platformFetch !== "function") {
      throw new LeadmeshError("no fetch on this platform: Node 18+ or a browser is needed, or pass options.fetch");
    }
    this.#fetch = platformFetch.bind(globalThis);
  }

  url(path: string, query?: Query): string {
    const url = new URL(this.baseURL + path);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  /** The answer's JSON. */
  async json<T>(call: Call): Promise<T> {
    const answer = await this.send(call);
    return answer.read(async (response) => (await response.json()) as T);
  }

  /** The successful answer, after the retries; an error status throws its error. */
  async send(call: Call): Promise<Answer> {
    const headers: Record<string, string> = {
      ...this.#headers,
      Authorization: `Bearer ${this.#apiKey}`,
      Accept: "application/json",
      ...(call.headers ?? {}),
    };
    let body = call.body;
    if (call.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(call.json);
    }
    if (call.method === "POST" && !hasHeader(headers, "idempotency-key")) {
      headers["Idempotency-Key"] = call.idempotencyKey ?? newIdempotencyKey();
    }
    const retriable = call.method !== "POST" || hasHeader(headers, "idempotency-key");
    const maxRetries = retriable ? (call.maxRetries ?? this.maxRetries) : 0;
    const timeout = call.timeout ?? this.timeout;
    const url = this.url(call.path, call.query);
    for (let attempt = 0; ; attempt++) {
      const deadline = new Deadline(timeout, call.signal);
      let response: Response;
      try {
        response = await this.#fetch(url, { method: call.method, headers, body, signal: deadline.signal });
      } catch (cause) {
        deadline.clear();
        if (call.signal?.aborted) throw call.signal.reason; // the caller's own abort, as fetch gives it
        const error = connectionError(cause, deadline, timeout);
        if (attempt >= maxRetries) throw error;
        await sleep(backoff(attempt), call.signal);
        continue;
      }
      if (response.ok) return { response, read: (body) => readBody(response, body, deadline, timeout) };
      if (attempt < maxRetries && RETRIED_STATUSES.has(response.status)) {
        const asked = retryAfterSeconds(response.headers.get("retry-after"));
        await response.body?.cancel().catch(() => undefined);
        deadline.clear();
        await sleep(asked === undefined ? backoff(attempt) : Math.min(asked, MAX_RETRY_AFTER) * 1000, call.signal);
        continue;
      }
      try {
        throw await errorFromResponse(response);
      } finally {
        deadline.clear();
      }
    }
  }
}

/** A successful answer whose body is still to be read, by `read` (within the attempt's deadline). */
export interface Answer {
  response: Response;
  read<T>(body: (response: Response) => Promise<T>): Promise<T>;
}

async function readBody<T>(
  response: Response,
  body: (response: Response) => Promise<T>,
  deadline: Deadline,
  timeout: number,
): Promise<T> {
  try {
    return await body(response);
  } catch (cause) {
    if (cause instanceof LeadmeshError) throw cause;
    if (deadline.expired) {
      throw new APITimeoutError(`the answer did not arrive within ${timeout} ms`, { cause });
    }
    if (cause instanceof SyntaxError) {
      const message = `the answer is not the JSON expected: ${cause.message}`;
      throw new LeadmeshError(message, { status: response.status, cause });
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new APIConnectionError(`the answer broke off: ${reason}`, { cause });
  } finally {
    deadline.clear();
  }
}

/** An attempt's deadline, aborting its fetch; also aborted by the caller's own signal. */
class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #outer: AbortSignal | undefined;
  readonly #onAbort = (): void => this.#controller.abort(this.#outer?.reason);
  expired = false;

  constructor(ms: number, outer?: AbortSignal) {
    this.#outer = outer;
    this.#timer = setTimeout(() => {
      this.expired = true;
      this.#controller.abort();
    }, ms);
    if (outer?.aborted) this.#onAbort();
    outer?.addEventListener("abort", this.#onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener("abort", this.#onAbort);
  }
}

function connectionError(cause: unknown, deadline: Deadline, timeout: number): LeadmeshError {
  if (deadline.expired) return new APITimeoutError(`no answer within ${timeout} ms`, { cause });
  const reason = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : "";
  return new APIConnectionError(`could not reach the API${reason ? `: ${reason}` : ""}`, { cause });
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

/** Milliseconds before retry `attempt + 1`: 0.5 s doubling up to 8 s, less up to a quarter at random. */
export function backoff(attempt: number): number {
  const base = Math.min(8, 0.5 * 2 ** attempt);
  return base * (1 - Math.random() * 0.25) * 1000;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export function newIdempotencyKey(): string {
  const random = globalThis.crypto?.randomUUID?.();
  if (random) return `lmjs_${random}`;
  return `lmjs_${Date.now().toString(36)}_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}
