/** What differs between Node and browsers: the environment, files, and Web Crypto on Node 18. */
export declare function isNode(): boolean;
/** A variable of the environment (Node only); undefined when unset or empty. */
export declare function env(name: string): string | undefined;
/**
 * A Node built-in module, imported at run time only (the name is not a literal, so bundlers for
 * browsers leave it alone).
 */
export declare function nodeModule<T>(name: string): Promise<T>;
/** Web Crypto: the platform's, or Node 18's `node:crypto` webcrypto. */
export declare function subtleCrypto(): Promise<SubtleCrypto>;
