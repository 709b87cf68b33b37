/** The account's ICP profile, first-party signals and credits. */

import type { IdempotentOptions, RequestOptions, Transport } from "./core.js";
import { LeadmeshError } from "./errors.js";
import type { ListOptions } from "./jobs.js";
import { everyItem } from "./pages.js";
import type { Credits, IcpProfile, IcpProfileInput, LedgerEntry, SignalsAnswer, WebEvent } from "./types.js";

export interface IcpUpdateOptions extends RequestOptions {
  /** Fail with ConflictError unless this is still the current version (a number or the ETag `"3"`). */
  ifMatch?: number | string;
}

export class Icp {
  constructor(private readonly transport: Transport) {}

  /** The current profile, or a past `version`. */
  get(options: RequestOptions & { version?: number } = {}): Promise<IcpProfile> {
    const { version, ...request } = options;
    return this.transport.json<IcpProfile>({ ...request, method: "GET", path: "/v1/icp", query: { version } });
  }

  /** Replaces the whole profile; resolves to the new version (the same one when nothing changed). */
  update(profile: IcpProfileInput, options: IcpUpdateOptions = {}): Promise<IcpProfile> {
    const { ifMatch, ...request } = options;
    const headers = { ...(request.headers ?? {}) };
    if (ifMatch !== undefined) headers["If-Match"] = etag(ifMatch);
    return this.transport.json<IcpProfile>({ ...request, headers, method: "PUT", path: "/v1/icp", json: profile });
  }

  /** Every version of the profile, newest first, across pages. */
  versions(options: ListOptions = {}): AsyncGenerator<IcpProfile, void> {
    const { pageSize, ...request } = options;
    return everyItem(async (pageToken) => {
      const page = await this.transport.json<{ versions: IcpProfile[]; next_page_token: string | null }>({
        ...request,
        method: "GET",
        path: "/v1/icp/versions",
        query: { page_size: pageSize, page_token: pageToken },
      });
      return { items: page.versions, next: page.next_page_token };
    });
  }
}

function etag(version: number | string): string {
  const text = String(version).trim();
  if (/^(W\/)?".*"$/.test(text) || text === "*") return text;
  if (!/^[0-9]+$/.test(text)) throw new LeadmeshError(`ifMatch must be a profile version, got ${text}`);
  return `"${text}"`;
}

export class Signals {
  constructor(private readonly transport: Transport) {}

  /** Records web activity from your own site (at most 1,000 events a call); rejected ones say why. */
  send(events: WebEvent[], options: IdempotentOptions = {}): Promise<SignalsAnswer> {
    return this.transport.json<SignalsAnswer>({
      ...options,
      method: "POST",
      path: "/v1/signals/events",
      json: { events },
    });
  }
}

export class CreditsResource {
  constructor(private readonly transport: Transport) {}

  /** Balance, credits held by running jobs, free-tier state and the newest ledger page. */
  get(options: ListOptions & { pageToken?: string } = {}): Promise<Credits> {
    const { pageSize, pageToken, ...request } = options;
    return this.transport.json<Credits>({
      ...request,
      method: "GET",
      path: "/v1/credits",
      query: { page_size: pageSize, page_token: pageToken },
    });
  }

  /** Every ledger entry, newest first, across pages. */
  ledger(options: ListOptions = {}): AsyncGenerator<LedgerEntry, void> {
    return everyItem(async (pageToken) => {
      const page = await this.get({ ...options, pageToken });
      return { items: page.ledger, next: page.next_page_token };
    });
  }
}
