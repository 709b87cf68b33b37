/** A CSV to upload (a path in Node, a Blob or File, bytes) and a result written to a path in Node. */

import { nodeModule } from "./platform.js";

/** A path (Node), a `Blob`/`File`, or the file's bytes. */
export type CsvInput = string | Blob | ArrayBuffer | Uint8Array;

interface NodeFs {
  openAsBlob?: (path: string, options?: { type?: string }) => Promise<Blob>;
  readFile(path: string): Promise<Uint8Array>;
  open(path: string, flags: string): Promise<{ write(data: Uint8Array): Promise<unknown>; close(): Promise<void> }>;
}

/** The file as a Blob and its name; a path is read lazily where Node can (`fs.openAsBlob`, Node 20). */
export async function csvBlob(input: CsvInput, fileName?: string): Promise<{ blob: Blob; name: string }> {
  if (typeof input === "string") {
    const fs = await nodeModule<NodeFs & { promises?: NodeFs }>("fs");
    const name = fileName ?? input.split(/[\\/]/).pop() ?? "leads.csv";
    if (fs.openAsBlob) return { blob: await fs.openAsBlob(input, { type: "text/csv" }), name };
    const bytes = await (fs.promises ?? fs).readFile(input);
    return { blob: new Blob([bytes], { type: "text/csv" }), name };
  }
  if (input instanceof Blob) {
    const named = (input as Blob & { name?: unknown }).name;
    return { blob: input, name: fileName ?? (typeof named === "string" && named ? named : "leads.csv") };
  }
  return { blob: new Blob([input], { type: "text/csv" }), name: fileName ?? "leads.csv" };
}

/** Streams an answer's body into the file at `path` (Node), replacing it. */
export async function writeBody(response: Response, path: string): Promise<void> {
  const fs = await nodeModule<{ promises: NodeFs }>("fs");
  const file = await fs.promises.open(path, "w");
  try {
    const reader = response.body?.getReader();
    for (;;) {
      const piece = await reader?.read();
      if (!piece || piece.done) break;
      await file.write(piece.value);
    }
  } finally {
    await file.close();
  }
}
