"""Reading the package's data files (``libs/normalize/data``): the tables are data, not code."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

__all__ = ["read_lines", "read_rows"]


def read_lines(name: str) -> Iterator[str]:
    """The non-blank, non-comment lines of ``data/<name>``, stripped."""
    text = resources.files("libs.normalize").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield stripped


def read_rows(name: str, min_columns: int = 2) -> Iterator[list[str]]:
    """The tab-separated rows of ``data/<name>``; a short row is a broken table."""
    for line in read_lines(name):
        row = [cell.strip() for cell in line.split("\t")]
        if len(row) < min_columns:
            raise ValueError(f"{name}: expected {min_columns} tab-separated columns in {line!r}")
        yield row
