"""A job run in the background every few seconds, between ``start()`` and ``stop()``: a service's
maintenance (purges, recovery, sweeps) and the gRPC server's readiness checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["Every"]

log = logging.getLogger("leadmesh.server")


class Every:
    """Runs ``job`` every ``interval`` seconds (the first time one interval after ``start()``).
    A job that raises is logged and run again next time; ``stop()`` lets a run under way finish."""

    def __init__(self, interval: float, job: Callable[[], Awaitable[object]]) -> None:
        self.interval = interval
        self.job = job
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._repeat(), name=f"every {self.interval}s: {self._name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            await task

    @property
    def _name(self) -> str:
        return str(getattr(self.job, "__qualname__", repr(self.job)))

    async def _repeat(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._stopping.is_set():
                return
            try:
                await self.job()
            except Exception:
                log.exception("background job failed", extra={"job": self._name})
