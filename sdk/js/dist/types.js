/**
 * The answers' shapes, as the API documents them (GET /openapi.json). The objects are the API's
 * JSON as it came: a field this version does not list yet is kept, not dropped.
 */
export {};
