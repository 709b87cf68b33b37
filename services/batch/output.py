"""The result CSV of a job, streamed page by page: every input row in order with its cells, then
``row_id``, ``status`` and the enrichment columns; every cell escaped against formula injection."""

from __future__ import annotations

from collections.abc import AsyncIterator

from libs.mongo import Document
from services.batch.csvfile import output_header, output_row, write_csv
from services.batch.repository import JobRepository
from services.batch.results import FAILED, empty_cells

__all__ = ["result_csv"]

PAGE_ROWS = 1_000


async def result_csv(repository: JobRepository, job: Document) -> AsyncIterator[bytes]:
    """The file in pieces of at most PAGE_ROWS rows; a row without a result (a job cancelled before
    it was reached) is ``failed`` with empty enrichment columns."""
    width = int(job["width"])
    yield write_csv([output_header(job["header"], width)]).encode()
    for first in range(1, int(job["total_rows"]) + 1, PAGE_ROWS):
        count = min(PAGE_ROWS, int(job["total_rows"]) + 1 - first)
        rows = await repository.rows_of(job["_id"], first, count)
        results = await repository.results_of(job["_id"], first, count)
        lines = []
        for number, row in enumerate(rows, start=first):
            result = results.get(row["_id"])
            status, cells = (result["status"], result["cells"]) if result else (FAILED, empty_cells())
            lines.append(output_row(row["cells"], width, [str(number), status, *cells]))
        yield write_csv(lines).encode()
