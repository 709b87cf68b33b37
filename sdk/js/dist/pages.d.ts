/** Iterating every item of a paginated list (`page_size`, `page_token` -> `next_page_token`). */
export interface Page<T> {
    items: T[];
    next: string | null | undefined;
}
/** Each item of every page, fetching the next page only when the previous one is used up. */
export declare function everyItem<T>(fetchPage: (pageToken?: string) => Promise<Page<T>>): AsyncGenerator<T, void>;
