"""Uploaded CSV files: spooled to disk as checked UTF-8, read back row by row, written out safely.

Memory stays flat: :class:`Utf8Spool` writes each chunk as it comes, :class:`CsvTable` streams
rows from the file, each within :class:`RowLimits` (bytes and columns, checked before a row is
split into cells), and :func:`write_csv` renders a batch of output rows at a time. Line numbers
are physical lines (``\\r\\n``, ``\\n`` and a lone ``\\r`` each end one), as a user sees them in an
editor, so an error can name the line to fix.
"""

from __future__ import annotations

import codecs
import csv
import io
import pathlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Self

from libs.errors import InvalidArgument
from services.batch.columns import (
    INPUT_FIELDS,
    MAX_FIELD_LENGTH,
    RowLead,
    RowProblem,
    apply_mapping_override,
    detect_mapping,
    lead_from_cells,
)

if TYPE_CHECKING:
    from _csv import Reader

__all__ = [
    "FIELD_SIZE_LIMIT",
    "INPUT_FIELDS",
    "MAX_FIELD_LENGTH",
    "OUTPUT_COLUMNS",
    "CsvEncodingError",
    "CsvError",
    "CsvRow",
    "CsvTable",
    "RowLead",
    "RowLimits",
    "RowProblem",
    "Utf8Spool",
    "apply_mapping_override",
    "detect_mapping",
    "escape_cell",
    "lead_from_cells",
    "output_header",
    "output_row",
    "write_csv",
]

OUTPUT_COLUMNS = (
    "row_id",
    "status",
    "enriched_email_status",
    "enriched_title",
    "enriched_seniority",
    "enriched_company",
    "enriched_domain",
    "enriched_industry",
    "enriched_size",
    "enriched_revenue",
    "enriched_phone",
    "enriched_linkedin",
    "icp_score",
    "icp_tier",
    "icp_signals",
    "intent_signals",
)

FIELD_SIZE_LIMIT = 131_072
# What makes a spreadsheet run a cell as a formula: one of these as its first non-blank character
# (the full-width forms too, which some spreadsheets read as the ASCII ones) ...
_FORMULA_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
# ... or one of these as its very first character (OWASP, CSV injection).
_CONTROL_PREFIXES = ("\t", "\r", "\n")


@dataclass(frozen=True)
class RowLimits:
    """The most columns and bytes (UTF-8, line ends included) one row of an upload may have."""

    max_columns: int = 500
    max_row_bytes: int = 65_536


class CsvError(InvalidArgument):
    """The upload is not a CSV file we can read; ``line`` is the physical line at fault, if known."""

    default_reason = "INVALID_CSV"

    def __init__(
        self,
        message: str,
        line: int | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ):
        details = dict(metadata or {})
        if line is not None:
            details["line"] = str(line)
        super().__init__(message, reason=reason, metadata=details)
        self.line = line


class CsvEncodingError(CsvError):
    """The upload is not UTF-8 (a Latin-1 or UTF-16 export, typically)."""

    default_reason = "UNSUPPORTED_ENCODING"


class Utf8Spool:
    """Writes uploaded bytes to `path` while checking they are UTF-8 (a leading BOM allowed).

    Chunk boundaries may fall anywhere, inside a multibyte character or a ``\\r\\n``.
    """

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.size = 0
        self._file = path.open("wb")
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._line = 1  # physical line of the next byte
        self._line_start = 0  # offset of the first byte of that line
        self._after_cr = False  # the last byte was "\r" (a "\n" next does not start a line)
        self._failed = False

    def write(self, chunk: bytes) -> None:
        """Checks and appends `chunk`; a byte that is not UTF-8 raises :class:`CsvEncodingError`."""
        if self._failed:
            raise ValueError("the spool already failed")
        self._check(chunk, final=False)
        self._file.write(chunk)
        self._advance(chunk)

    def close(self) -> None:
        """Closes the file; a multibyte character cut short at the end is a :class:`CsvEncodingError`."""
        if self._file.closed:
            return
        try:
            if not self._failed:
                self._check(b"", final=True)
        finally:
            self._file.close()

    def _check(self, chunk: bytes, final: bool) -> None:
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            self._failed = True
            offset = exc.start - pending  # within `chunk`; negative when in bytes held from before
            raise self._encoding_error(
                chunk[: max(offset, 0)], self.size + offset, exc.object[exc.start]
            ) from None

    def _encoding_error(self, before: bytes, position: int, byte: int) -> CsvEncodingError:
        line, line_start, _ = _lines_after(before, self._line, self._line_start, self._after_cr, self.size)
        if position == 0 and byte in (0xFE, 0xFF):
            message = "the file is UTF-16, not UTF-8; save it as UTF-8 (with or without BOM)"
        else:
            message = (
                f"the file is not UTF-8: line {line} has bytes that are not valid UTF-8 "
                f"(0x{byte:02x} at byte {position - line_start + 1} of the line); "
                "save it as UTF-8 (with or without BOM)"
            )
        return CsvEncodingError(message, line=line)

    def _advance(self, chunk: bytes) -> None:
        self._line, self._line_start, self._after_cr = _lines_after(
            chunk, self._line, self._line_start, self._after_cr, self.size
        )
        self.size += len(chunk)


def _lines_after(
    data: bytes, line: int, line_start: int, after_cr: bool, offset: int
) -> tuple[int, int, bool]:
    """(line, offset of its start, ends with "\\r") once `data`, which starts at `offset`, is read."""
    if not data:
        return line, line_start, after_cr
    breaks = data.count(b"\r") + data.count(b"\n") - data.count(b"\r\n")
    if after_cr and data.startswith(b"\n"):
        breaks -= 1
    last = max(data.rfind(b"\r"), data.rfind(b"\n"))
    if last >= 0:
        line_start = offset + last + 1
    return line + breaks, line_start, data.endswith(b"\r")


@dataclass(frozen=True)
class CsvRow:
    """One data row: its 1-based number among data rows, the physical line it starts on, its cells
    and its size in the file (bytes, line ends included)."""

    number: int
    line: int
    cells: list[str]
    size: int = field(default=0, compare=False)


class CsvTable:
    """Reads a spooled file: the header, then the rows, streaming (never the whole file in memory).

    :meth:`rows` starts again from the top each time it is called, so a file can be read twice.
    """

    def __init__(self, file: io.TextIOWrapper, header: list[str], limits: RowLimits) -> None:
        self._file = file
        self.header = header
        self.limits = limits

    @classmethod
    def open(cls, path: pathlib.Path | str, limits: RowLimits = RowLimits()) -> CsvTable:
        file = pathlib.Path(path).open(encoding="utf-8-sig", newline="")
        try:
            header = [cell.strip() for cell in _header_cells(_Rows(file, limits))]
        except BaseException:
            file.close()
            raise
        return cls(file, header, limits)

    def rows(self) -> Iterator[CsvRow]:
        """Data rows in file order. Blank lines are skipped; a row of empty cells (``,,,``) is a row."""
        self._file.seek(0)
        reader = _Rows(self._file, self.limits)
        _header_cells(reader)
        number = 0
        while True:
            start = reader.line_num + 1
            cells = reader.next_cells(start)
            if cells is None:
                return
            if cells:
                number += 1
                yield CsvRow(number=number, line=start, cells=cells, size=reader.lines.row_bytes)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _RowTooLong(Exception):
    pass


class _Lines:
    """The file's physical lines for ``csv.reader``; the lines of one row stop at ``max_bytes``
    (read at most that far: a megabyte of commas never becomes a million cells)."""

    def __init__(self, file: io.TextIOWrapper, max_bytes: int) -> None:
        self.file, self.max_bytes, self.row_bytes = file, max_bytes, 0

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> str:
        line = self.file.readline(self.max_bytes + 1 - self.row_bytes)  # characters: at most as many
        if not line:
            raise StopIteration
        self.row_bytes += len(line) if line.isascii() else len(line.encode())
        if self.row_bytes > self.max_bytes:
            raise _RowTooLong
        return line


class _Rows:
    """``csv.reader`` over :class:`_Lines`, each row checked against the limits."""

    def __init__(self, file: io.TextIOWrapper, limits: RowLimits) -> None:
        csv.field_size_limit(FIELD_SIZE_LIMIT)  # process-wide; the default, set again in case it was raised
        self.lines = _Lines(file, limits.max_row_bytes)
        self.reader: Reader = csv.reader(self.lines)
        self.limits = limits

    @property
    def line_num(self) -> int:
        return self.reader.line_num

    def next_cells(self, start: int) -> list[str] | None:
        """The next row (``[]`` for a blank line), or None at the end."""
        self.lines.row_bytes = 0
        try:
            cells = _next_cells(self.reader, start)
        except _RowTooLong:
            limit = self.limits.max_row_bytes
            raise CsvError(
                f"line {start}: the row is longer than {limit:,} bytes (is a quote left open?)",
                line=start,
                metadata={"max_row_bytes": str(limit)},
            ) from None
        if cells is not None and len(cells) > self.limits.max_columns:
            limit = self.limits.max_columns
            raise CsvError(
                f"line {start}: the row has {len(cells):,} columns, more than the {limit:,} allowed",
                line=start,
                metadata={"max_columns": str(limit)},
            )
        return cells


def _header_cells(rows: _Rows) -> list[str]:
    """The first non-blank row; an empty file or a header of blank cells is a :class:`CsvError`."""
    while True:
        start = rows.line_num + 1
        cells = rows.next_cells(start)
        if cells is None:
            raise CsvError("the file is empty")
        if cells:
            if not any(cell.strip() for cell in cells):
                raise CsvError("the header row is empty", line=start)
            return cells


def _next_cells(reader: Reader, start: int) -> list[str] | None:
    """The next row of `reader` (``[]`` for a blank line), or None at the end."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise CsvError(
                f"line {start}: a field is longer than {FIELD_SIZE_LIMIT} characters (is a quote left open?)",
                line=start,
            ) from None
        raise CsvError(f"line {start}: the row is not valid CSV ({exc})", line=start) from None
    except UnicodeDecodeError:
        raise CsvEncodingError(
            f"the file is not UTF-8 (from line {start}); save it as UTF-8 (with or without BOM)", line=start
        ) from None


def escape_cell(value: str) -> str:
    """`value`, with a leading ``'`` when a spreadsheet could run it as a formula (OWASP CSV
    injection): its first non-blank character is ``= + - @`` or a full-width form of one, or it
    starts with a tab, CR or LF."""
    if value.startswith(_CONTROL_PREFIXES) or value.lstrip()[:1] in _FORMULA_TRIGGERS:
        return f"'{value}"
    return value


def _escaped(cells: Iterable[str], escape: bool) -> list[str]:
    return [escape_cell(cell) for cell in cells] if escape else list(cells)


def output_header(header: Sequence[str], width: int, escape: bool = True) -> list[str]:
    """The input header, named out to `width` columns (``column_<n>``), then :data:`OUTPUT_COLUMNS`;
    escaped unless `escape` is False."""
    names = list(header) + [f"column_{n}" for n in range(len(header) + 1, width + 1)]
    return _escaped((*names, *OUTPUT_COLUMNS), escape)


def output_row(cells: Sequence[str], width: int, appended: Sequence[str], escape: bool = True) -> list[str]:
    """The input cells padded with ``""`` to `width` (never cut), then `appended`; escaped unless
    `escape` is False."""
    padded = list(cells) + [""] * (width - len(cells))
    return _escaped((*padded, *appended), escape)


def write_csv(rows: Iterable[Sequence[str]]) -> str:
    """`rows` as CSV text (minimal quoting, ``\\r\\n`` line ends)."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
