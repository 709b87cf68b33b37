/**
 * The package's version, sent as `X-Leadmesh-Client: leadmesh-js/<version>` (test/live checks it
 * matches package.json).
 */
export declare const VERSION = "0.1.0";
