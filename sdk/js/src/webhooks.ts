/**
 * Verifying the webhooks of CSV jobs, with Web Crypto (browsers, Node 18+, edge runtimes).
 *
 * A delivery carries `Leadmesh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`,
 * keyed with the account's secret (`client.webhooks.secret()`); several `v1=` values may be present
 * (one matching is enough), other schemes are skipped.
 */

import type { RequestOptions, Transport } from "./core.js";
import { subtleCrypto } from "./platform.js";
import type { WebhookSecret } from "./types.js";

export const SIGNATURE_HEADER = "Leadmesh-Signature";

/** (timestamp, v1 signatures) of a header, or undefined when it is malformed. */
function parseSignature(header: string): { timestamp: number; signatures: string[] } | undefined {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const item of header.split(",")) {
    const part = item.trim();
    const equals = part.indexOf("=");
    const key = equals < 0 ? part : part.slice(0, equals);
    const value = equals < 0 ? "" : part.slice(equals + 1);
    if (!value) return undefined;
    if (key === "t") {
      if (timestamp !== undefined || value.length > 12 || !/^[0-9]+$/.test(value)) return undefined;
      timestamp = Number(value);
    } else if (key === "v1") {
      signatures.push(value);
    }
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures };
}

function bytesOf(body: string | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Compares in time that does not depend on where the strings differ. */
function sameText(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i % Math.max(1, b.length));
  return difference === 0;
}

/**
 * Whether `header` (the `Leadmesh-Signature` value) signs `body` (the raw request body, exactly as
 * received: not re-serialized JSON) with `secret`, at a time within `tolerance` seconds of `now`.
 */
export async function verifyWebhook(
  secret: string,
  header: string | null | undefined,
  body: string | ArrayBuffer | ArrayBufferView,
  tolerance = 300,
  now: number = Date.now() / 1000,
): Promise<boolean> {
  const parsed = header ? parseSignature(header) : undefined;
  if (!parsed || !secret) return false;
  if (Math.abs(now - parsed.timestamp) > tolerance) return false;
  const subtle = await subtleCrypto();
  const encoder = new TextEncoder();
  const key = await subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const prefix = encoder.encode(`${parsed.timestamp}.`);
  const payload = bytesOf(body);
  const signed = new Uint8Array(prefix.length + payload.length);
  signed.set(prefix);
  signed.set(payload, prefix.length);
  const expected = hex(await subtle.sign("HMAC", key, signed));
  return parsed.signatures.map((candidate) => sameText(expected, candidate)).includes(true);
}

export class Webhooks {
  constructor(private readonly transport: Transport) {}

  /** The account's signing secret (`secret`), the header it signs (`header`) and the scheme. */
  secret(options: RequestOptions = {}): Promise<WebhookSecret> {
    return this.transport.json<WebhookSecret>({ ...options, method: "GET", path: "/v1/webhooks/secret" });
  }

  /** `verifyWebhook`, as a method. */
  verify(
    secret: string,
    header: string | null | undefined,
    body: string | ArrayBuffer | ArrayBufferView,
    tolerance = 300,
  ): Promise<boolean> {
    return verifyWebhook(secret, header, body, tolerance);
  }
}
