"""The progress of a CSV job: a rich bar on a terminal (rows done of total, rate, time left), plain
lines elsewhere (one per change, so a log or a pipe reads it)."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["RowProgress"]


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:.1f} rows/s" if task.speed else "- rows/s")


class RowProgress:
    def __init__(self, name: str, total: int, stream: TextIO) -> None:
        self.name = name
        self.total = total
        self.stream = stream
        self.terminal = stream.isatty()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._began: tuple[float, int] | None = None
        self._last: int | None = None

    def __enter__(self) -> RowProgress:
        if self.terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows"),
                _RateColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
            )
            self._bar.start()
            self._task = self._bar.add_task(self.name, total=self.total)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def update(self, done: int, total: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)
            return
        if done == self._last:
            return
        self._last = done
        now = time.monotonic()
        if self._began is None:
            self._began = (now, done)
        since, first = self._began
        rate = (done - first) / (now - since) if now > since else 0.0
        left = f", about {round((total - done) / rate)}s left" if rate > 0 and done < total else ""
        percent = f"{100 * done // total}%" if total else "-"
        self.stream.write(f"{self.name}: {done}/{total} rows ({percent}), {rate:.1f} rows/s{left}\n")
        self.stream.flush()
