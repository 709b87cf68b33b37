"""The result CSV of a job, streamed page by page: every input row in order with its cells, then
``row_id``, ``status`` and the enrichment columns; every cell escaped against formula injection
unless the upload asked to keep formulas (``keep_formulas``). A page holds PAGE_ROWS rows, fewer
when the file's longest row would make it more than about PAGE_BYTES."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from libs.mongo import Document
from services.batch.csvfile import output_header, output_row, write_csv
from services.batch.repository import JobRepository
from services.batch.results import FAILED, empty_cells

__all__ = ["result_csv"]

PAGE_ROWS = 1_000
PAGE_BYTES = 4 * 1024 * 1024


def page_rows(job: Document, page_bytes: int = PAGE_BYTES) -> int:
    """Rows of one page: at most PAGE_ROWS, and about ``page_bytes`` of input rows at most."""
    longest = int(job.get("longest_row", 0))  # 0 for jobs stored before it was recorded
    return PAGE_ROWS if longest <= 0 else max(1, min(PAGE_ROWS, page_bytes // longest))


async def result_csv(
    repository: JobRepository, job: Document, page_bytes: int = PAGE_BYTES
) -> AsyncIterator[bytes]:
    """The file in pieces of at most :func:`page_rows` rows; a row without a result (a job
    cancelled before it was reached) is ``failed`` with empty enrichment columns. The next page is
    read from the store while this one is written out."""
    width, total, size = int(job["width"]), int(job["total_rows"]), page_rows(job, page_bytes)
    escape = not job.get("keep_formulas", False)
    yield write_csv([output_header(job["header"], width, escape)]).encode()
    starts = range(1, total + 1, size)
    if not starts:
        return

    async def read(first: int) -> tuple[list[Document], dict[str, Document]]:
        count = min(size, total + 1 - first)
        return await asyncio.gather(
            repository.rows_of(job["_id"], first, count), repository.results_of(job["_id"], first, count)
        )

    ahead = asyncio.ensure_future(read(starts[0]))
    try:
        for position, first in enumerate(starts):
            rows, results = await ahead
            if position + 1 < len(starts):
                ahead = asyncio.ensure_future(read(starts[position + 1]))
            lines = []
            for number, row in enumerate(rows, start=first):
                result = results.get(row["_id"])
                status, cells = (result["status"], result["cells"]) if result else (FAILED, empty_cells())
                lines.append(output_row(row["cells"], width, [str(number), status, *cells], escape))
            yield write_csv(lines).encode()
    finally:
        ahead.cancel()
