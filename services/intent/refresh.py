"""Fetching a company's hiring and technology sources and storing what they show.

A fetch of one (company, source) runs once at a time per process: a request, the weekly worker
and an on-demand Refresh asking for the same company share it. Fetches outlive the call that
started them (a GetSignals that stops waiting at its deadline leaves the fetch to finish and be
stored), are bounded by a semaphore, and are cancelled when the process stops.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import TypeVar

from services.intent.domain import (
    FetchStatus,
    Source,
    SourceState,
    TechnologyCatalog,
    hiring_signals,
    merge_sightings,
)
from services.intent.repository import IntentRepository
from services.intent.sources.boards import JobBoards
from services.intent.sources.errors import FetchFailed
from services.intent.sources.homepage import HomepageFetcher

__all__ = ["RefreshRunner"]

log = logging.getLogger(__name__)

K = TypeVar("K")


class RefreshRunner:
    def __init__(
        self,
        repository: IntentRepository,
        boards: JobBoards,
        homepage: HomepageFetcher,
        catalog: TechnologyCatalog,
        concurrency: int,
        clock: Callable[[], datetime],
    ):
        self.repository = repository
        self.boards = boards
        self.homepage = homepage
        self.catalog = catalog
        self.clock = clock
        self._semaphore = asyncio.Semaphore(concurrency)
        self._inflight: dict[tuple[str, Source], asyncio.Task[None]] = {}

    def start(self, domain: str, sources: Iterable[Source]) -> dict[Source, asyncio.Task[None]]:
        """The running fetch of each fetched source of ``domain``, started unless already running."""
        tasks = {}
        for source in sources:
            if not source.fetched:
                continue
            key = (domain, source)
            task = self._inflight.get(key)
            if task is None:
                task = asyncio.create_task(
                    self._fetch(domain, source), name=f"intent-fetch-{source}-{domain}"
                )
                self._inflight[key] = task
                task.add_done_callback(functools.partial(self._finished, key))
            tasks[source] = task
        return tasks

    def _finished(self, key: tuple[str, Source], task: asyncio.Task[None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "storing a fetch failed",
                exc_info=task.exception(),
                extra={"domain": key[0], "source": key[1].value},
            )

    @staticmethod
    async def wait(tasks: Mapping[K, asyncio.Task[None]], timeout: float) -> set[K]:
        """Waits up to ``timeout`` seconds; returns the keys of the fetches still running (they
        carry on, and store what they find when they finish)."""
        if tasks and timeout > 0:
            await asyncio.wait(tasks.values(), timeout=timeout)
        return {key for key, task in tasks.items() if not task.done()}

    async def run(self, domain: str, sources: Iterable[Source]) -> None:
        """Fetches and stores every source of ``domain``; raises when storing one failed."""
        tasks = self.start(domain, sources)
        await asyncio.gather(*tasks.values())

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _fetch(self, domain: str, source: Source) -> None:
        fetchers: dict[Source, Callable[[str], Awaitable[None]]] = {
            Source.HIRING: self._hiring,
            Source.TECHNOLOGY: self._technology,
        }
        async with self._semaphore:
            await fetchers[source](domain)

    async def _hiring(self, domain: str) -> None:
        now = self.clock()
        try:
            found = await self.boards.postings(domain)
        except FetchFailed as failure:
            log.warning("job boards unavailable", extra={"domain": domain, "error": str(failure)})
            await self.repository.save_hiring_failure(
                domain, SourceState(FetchStatus.FAILED, now, str(failure))
            )
            return
        signals = await asyncio.to_thread(hiring_signals, found.postings, now)
        await self.repository.save_hiring(domain, SourceState(FetchStatus.OK, now), signals, found.boards)

    async def _technology(self, domain: str) -> None:
        previous = await self.repository.company(domain)
        now = self.clock()
        try:
            homepage = await self.homepage.fetch(domain)
        except FetchFailed as failure:
            log.warning("homepage unavailable", extra={"domain": domain, "error": str(failure)})
            state = SourceState(FetchStatus.FAILED, now, str(failure))
            await self.repository.save_technology_failure(domain, state)
            return
        detections = await asyncio.to_thread(self.catalog.detect, homepage.page)
        first_seen = dict(previous.first_seen) if previous is not None else {}
        sightings = merge_sightings(detections, first_seen, now)
        for sighting in sightings:
            first_seen.setdefault(sighting.slug, now)
        baseline = previous.baseline_time if previous is not None and previous.baseline_time else now
        await self.repository.save_technology(
            domain, SourceState(FetchStatus.OK, now), homepage.url, sightings, baseline, first_seen
        )
