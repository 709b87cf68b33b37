/** A CSV to upload (a path in Node, a Blob or File, bytes) and a result written to a path in Node. */
/** A path (Node), a `Blob`/`File`, or the file's bytes. */
export type CsvInput = string | Blob | ArrayBuffer | Uint8Array;
/** The file as a Blob and its name; a path is read lazily where Node can (`fs.openAsBlob`, Node 20). */
export declare function csvBlob(input: CsvInput, fileName?: string): Promise<{
    blob: Blob;
    name: string;
}>;
/** Streams an answer's body into the file at `path` (Node), replacing it. */
export declare function writeBody(response: Response, path: string): Promise<void>;
