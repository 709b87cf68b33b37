/**
 * leadmesh-client: the leadmesh API from JavaScript and TypeScript (ESM, no dependencies; Node 18+
 * and browsers).
 *
 * ```js
 * import Leadmesh from "leadmesh-client";
 * const client = new Leadmesh(process.env.LEADMESH_API_KEY);
 * const result = await client.enrich.lead({ email: "jane@acme.com" });
 * console.log(result.lead.title);
 * ```
 */

import { Leadmesh } from "./client.js";

export { Leadmesh };
export default Leadmesh;
export type { ClientOptions, IdempotentOptions, RequestOptions } from "./core.js";
export type { CsvOptions, CsvProgress, CsvUpload } from "./enrich.js";
export type { CsvInput } from "./files.js";
export type { DownloadOptions, ListOptions } from "./jobs.js";
export type { IcpUpdateOptions } from "./account.js";
export {
  APIConnectionError,
  APIError,
  APIStatusError,
  APITimeoutError,
  AuthenticationError,
  ConflictError,
  InsufficientCreditsError,
  InvalidRequestError,
  LeadmeshError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from "./errors.js";
export { SIGNATURE_HEADER, verifyWebhook } from "./webhooks.js";
export { VERSION } from "./version.js";
export type {
  FieldGroup,
  LeadInput,
  CsvRowInput,
  IcpPoints,
  IntentSignalDetail,
  Lead,
  Degradation,
  LeadMeta,
  LeadAnswer,
  CsvRow,
  CsvRowAnswer,
  JobStatus,
  JobCounts,
  RowIssue,
  Job,
  Criterion,
  IcpExclusions,
  IcpProfileInput,
  IcpProfile,
  WebEvent,
  SignalsAnswer,
  LedgerEntry,
  Credits,
  WebhookSecret,
} from "./types.js";
