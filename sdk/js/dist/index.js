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
export { APIConnectionError, APIError, APIStatusError, APITimeoutError, AuthenticationError, ConflictError, InsufficientCreditsError, InvalidRequestError, LeadmeshError, NotFoundError, PermissionDeniedError, RateLimitError, } from "./errors.js";
export { SIGNATURE_HEADER, verifyWebhook } from "./webhooks.js";
export { VERSION } from "./version.js";
