"""Fetching a company's hiring and technology sources and storing what they show.

A fetch of one (company, source) runs once at a time per process: a request, the weekly worker
and an on-demand Refresh asking for the same company share it. Fetches outlive the call that
started them (a GetSignals that stops waiting at its deadline leaves the fetch to finish and be
stored), are bounded by a semaphore per source, and are cancelled when the process stops.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from libs.ttlcache import TtlCache
from services.intent.domain import (
    CompanyState,
    FetchStatus,
    Source,
    SourceState,
    TechnologyCatalog,
    hiring_signals,
    merge_sightings,
    retry_delay,
)
from services.intent.repository import IntentRepository
from services.intent.sources.boards import JobBoards
from services.intent.sources.errors import FetchFailed
from services.intent.sources.homepage import HomepageFetcher

__all__ = ["RefreshRunner"]

log = logging.getLogger(__name__)

K = TypeVar("K")
# Sources failing in a row remembered in-process, at most.
FAILING_SIZE = 50_000


class RefreshRunner:
    def __init__(
        self,
        repository: IntentRepository,
        boards: JobBoards,
        homepage: HomepageFetcher,
        catalog: TechnologyCatalog,
        concurrency: int,
        clock: Callable[[], datetime],
        backoff: tuple[timedelta, timedelta] = (timedelta(0), timedelta(0)),
    ):
        self.repository = repository
        self.boards = boards
        self.homepage = homepage
        self.catalog = catalog
        self.clock = clock
        # Per source: a slow job-board API does not hold the websites' fetches, nor the reverse.
        self._slots = {source: asyncio.Semaphore(concurrency) for source in Source if source.fetched}
        self._inflight: dict[tuple[str, Source], asyncio.Task[None]] = {}
        # A failed source's (retry time, failures in a row), decided here without the store: the
        # leads of a failing company meanwhile start no fetch, even if storing the failure failed.
        self.first_retry, self.longest_retry = backoff
        self._failing: TtlCache[tuple[str, Source], tuple[datetime, int]] = TtlCache(
            2 * self.longest_retry.total_seconds(), FAILING_SIZE, clock=lambda: clock().timestamp()
        )

    def due(self, domain: str, sources: Iterable[Source]) -> tuple[Source, ...]:
        """``sources`` but those of ``domain`` that failed too recently to be fetched again."""
        now = self.clock()
        return tuple(s for s in sources if (hit := self._failing.get((domain, s))) is None or hit[0] <= now)

    def _failed(self, domain: str, source: Source, stored: CompanyState | None, now: datetime) -> int:
        """Remembers that ``source`` failed again; its failures in a row (this one included), by
        the store's count or this process's, whichever is higher."""
        last = stored.source(source) if stored is not None else None
        before = last.failures if last is not None and last.status is FetchStatus.FAILED else 0
        remembered = self._failing.get((domain, source))
        failures = max(before, remembered[1] if remembered is not None else 0) + 1
        delay = retry_delay(failures, self.first_retry, self.longest_retry)
        self._failing.put((domain, source), (now + delay, failures))
        return failures

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
        async with self._slots[source]:
            await fetchers[source](domain)

    async def _hiring(self, domain: str) -> None:
        now = self.clock()
        try:
            found = await self.boards.postings(domain)
        except FetchFailed as failure:
            log.warning("job boards unavailable", extra={"domain": domain, "error": str(failure)})
            failures = self._failed(domain, Source.HIRING, await self.repository.company(domain), now)
            await self.repository.save_hiring_failure(
                domain, SourceState(FetchStatus.FAILED, now, str(failure), failures)
            )
            return
        self._failing.drop((domain, Source.HIRING))
        signals = await asyncio.to_thread(hiring_signals, found.postings, now)
        await self.repository.save_hiring(domain, SourceState(FetchStatus.OK, now), signals, found.boards)

    async def _technology(self, domain: str) -> None:
        previous = await self.repository.company(domain)
        now = self.clock()
        try:
            homepage = await self.homepage.fetch(domain)
        except FetchFailed as failure:
            log.warning("homepage unavailable", extra={"domain": domain, "error": str(failure)})
            failures = self._failed(domain, Source.TECHNOLOGY, previous, now)
            state = SourceState(FetchStatus.FAILED, now, str(failure), failures)
            await self.repository.save_technology_failure(domain, state)
            return
        self._failing.drop((domain, Source.TECHNOLOGY))
        detections = await asyncio.to_thread(self.catalog.detect, homepage.page)
        first_seen = dict(previous.first_seen) if previous is not None else {}
        sightings = merge_sightings(detections, first_seen, now)
        for sighting in sightings:
            first_seen.setdefault(sighting.slug, now)
        baseline = previous.baseline_time if previous is not None and previous.baseline_time else now
        await self.repository.save_technology(
            domain, SourceState(FetchStatus.OK, now), homepage.url, sightings, baseline, first_seen
        )
