/** Iterating every item of a paginated list (`page_size`, `page_token` -> `next_page_token`). */
/** Each item of every page, fetching the next page only when the previous one is used up. */
export async function* everyItem(fetchPage) {
    let token;
    do {
        const page = await fetchPage(token);
        yield* page.items;
        token = page.next ?? undefined;
    } while (token);
}
