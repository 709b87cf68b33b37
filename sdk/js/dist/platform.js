/** What differs between Node and browsers: the environment, files, and Web Crypto on Node 18. */
function nodeProcess() {
    return globalThis.process;
}
export function isNode() {
    return typeof nodeProcess()?.versions?.node === "string";
}
/** A variable of the environment (Node only); undefined when unset or empty. */
export function env(name) {
    const value = nodeProcess()?.env?.[name];
    return value ? value : undefined;
}
/**
 * A Node built-in module, imported at run time only (the name is not a literal, so bundlers for
 * browsers leave it alone).
 */
export async function nodeModule(name) {
    if (!isNode())
        throw new Error(`${name} is only available in Node`);
    const specifier = `node:${name}`;
    return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier));
}
/** Web Crypto: the platform's, or Node 18's `node:crypto` webcrypto. */
export async function subtleCrypto() {
    const subtle = globalThis.crypto?.subtle;
    if (subtle)
        return subtle;
    const crypto = await nodeModule("crypto");
    return crypto.webcrypto.subtle;
}
