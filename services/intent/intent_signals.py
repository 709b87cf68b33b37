"""What the RPCs do: signals of one company or many, on-demand and weekly refreshes, web events."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.errors import Conflict, InvalidArgument
from libs.ids import new_id
from libs.normalize import normalize_domain
from libs.ttlcache import TtlCache
from services.intent.competitors import CompetitorDirectory
from services.intent.domain import (
    FETCHED_SOURCES,
    Category,
    CompanyState,
    CurrentSignal,
    EngagementTotal,
    FetchStatus,
    HalfLives,
    Rejection,
    Signal,
    Source,
    TechnologyCatalog,
    WebEventInput,
    current_signals,
    due_sources,
    engagement_signals,
    technology_signals,
    validate_events,
)
from services.intent.event_store import EventStore, StoredAnswer
from services.intent.refresh import RefreshRunner
from services.intent.repository import IntentRepository

__all__ = ["CompanyView", "EventsAnswer", "IntentPolicy", "IntentSignals"]

log = logging.getLogger(__name__)

# Kept from a call's time to read the store and answer after waiting for fetches.
ANSWER_RESERVE = 0.2
READ_CACHE_SIZE = 20_000
# A company asked about again within this is not written as "asked about" again.
TRACK_GRANULARITY = timedelta(hours=12)
MAX_REQUEST_ID = 128


@dataclass(frozen=True)
class IntentPolicy:
    half_lives: HalfLives
    engagement_window: timedelta
    # Raw events are deleted this long after they happened.
    event_retention: timedelta
    competitor_evaluation: timedelta
    retry_failed_after: timedelta
    min_refresh_interval: timedelta
    max_events: int
    max_batch_domains: int
    # A source failing again and again is left alone twice as long each time, at most this long.
    retry_failed_max: timedelta = timedelta(hours=1)
    # How long a company's stored state and an account's engagement totals are reused in-process.
    # What this replica fetches or records is seen at once; another replica's within this time.
    read_cache: float = 0.0


@dataclass(frozen=True)
class CompanyView:
    """A company's signals now, strongest first, and the sources still being fetched."""

    domain: str
    signals: list[CurrentSignal]
    pending: tuple[Source, ...] = ()
    refresh_time: datetime | None = None


@dataclass(frozen=True)
class EventsAnswer:
    accepted_count: int
    rejected: list[Rejection]


def _sources(categories: frozenset[Category]) -> tuple[Source, ...]:
    return tuple(s for s in Source if not categories or s.category in categories)


def _domain(raw: str) -> str:
    domain = normalize_domain(raw)
    if domain is None:
        raise InvalidArgument(f"{raw[:100]!r} is not a company domain", reason="INVALID_DOMAIN")
    return domain


class IntentSignals:
    def __init__(
        self,
        repository: IntentRepository,
        events: EventStore,
        runner: RefreshRunner,
        competitors: CompetitorDirectory,
        catalog: TechnologyCatalog,
        policy: IntentPolicy,
        clock: Callable[[], datetime],
    ):
        self.repository = repository
        self.events = events
        self.runner = runner
        self.competitors = competitors
        self.catalog = catalog
        self.policy = policy
        self.clock = clock
        self._states: TtlCache[str, CompanyState] = TtlCache(policy.read_cache, READ_CACHE_SIZE)
        self._totals: TtlCache[tuple[str, str], tuple[EngagementTotal, ...]] = TtlCache(
            policy.read_cache, READ_CACHE_SIZE
        )

    # reading

    async def company(
        self, account_id: str, raw_domain: str, categories: frozenset[Category], time_left: float
    ) -> CompanyView:
        return (await self._views(account_id, [_domain(raw_domain)], categories, time_left, None))[0]

    async def companies(
        self, account_id: str, raw_domains: Sequence[str], categories: frozenset[Category], time_left: float
    ) -> list[CompanyView]:
        """One view per domain, in order; a string that is no domain gets an empty view of itself."""
        if len(raw_domains) > self.policy.max_batch_domains:
            raise InvalidArgument(
                f"at most {self.policy.max_batch_domains} domains per call, got {len(raw_domains)}",
                reason="TOO_MANY_DOMAINS",
            )
        domains = [normalize_domain(raw) for raw in raw_domains]
        views = await self._views(account_id, [d for d in domains if d], categories, time_left, None)
        by_domain = {view.domain: view for view in views}
        return [
            by_domain[d] if d else CompanyView(raw, []) for raw, d in zip(raw_domains, domains, strict=True)
        ]

    async def refresh(
        self, account_id: str, raw_domain: str, sources: Iterable[Source], time_left: float
    ) -> CompanyView:
        """Fetches the sources now (not those fetched within the minimum interval) and answers
        with every signal, the sources still running within ``time_left`` listed as pending."""
        domain = _domain(raw_domain)
        wanted = tuple(s for s in (tuple(sources) or FETCHED_SOURCES) if s.fetched)
        state = await self.repository.company(domain)
        now = self.clock()
        recent = {
            source
            for source in wanted
            if state is not None
            and (last := state.source(source)) is not None
            and last.status is FetchStatus.OK
            and now - last.fetch_time < self.policy.min_refresh_interval
        }
        return (
            await self._views(
                account_id, [domain], frozenset(), time_left, tuple(s for s in wanted if s not in recent)
            )
        )[0]

    async def _views(
        self,
        account_id: str,
        domains: list[str],
        categories: frozenset[Category],
        time_left: float,
        forced: tuple[Source, ...] | None,
    ) -> list[CompanyView]:
        """Views of ``domains``: never-fetched (or ``forced``) sources are fetched, waited for
        within ``time_left``, and listed as pending when they are still running."""
        unique = list(dict.fromkeys(domains))
        now = self.clock()
        states = await self._company_states(unique)
        wanted = tuple(s for s in _sources(categories) if s.fetched)
        running = {
            (domain, source): task
            for domain in unique
            for source, task in self.runner.start(
                domain,
                forced
                if forced is not None
                else self.runner.due(
                    domain,
                    due_sources(
                        states.get(domain),
                        wanted,
                        now,
                        retry_failed_after=self.policy.retry_failed_after,
                        retry_failed_max=self.policy.retry_failed_max,
                    ),
                ),
            ).items()
        }
        for (domain, _), task in running.items():  # what a fetch stores is read afresh
            task.add_done_callback(functools.partial(self._forget, domain))
        pending, _, totals, competitors = await asyncio.gather(
            self.runner.wait(running, max(0.0, time_left - ANSWER_RESERVE)),
            self._track(unique, states, now),
            self._engagement(account_id, unique, categories, now),
            self._competitors(account_id, categories, time_left),
        )
        finished = list(
            dict.fromkeys(domain for domain, source in running if (domain, source) not in pending)
        )
        if finished:
            states.update(await self._company_states(finished, fresh=True))
        terms = self.catalog.competitor_terms(competitors)
        by_domain: dict[str, list[EngagementTotal]] = {}
        for total in totals:
            by_domain.setdefault(total.domain, []).append(total)
        return [
            CompanyView(
                domain=domain,
                signals=current_signals(
                    [
                        *self._fetched_signals(states.get(domain), terms, now),
                        *engagement_signals(by_domain.get(domain, ())),
                    ],
                    now,
                    self.policy.half_lives,
                    categories,
                ),
                pending=tuple(source for d, source in running if d == domain and (d, source) in pending),
                refresh_time=state.refresh_time if (state := states.get(domain)) is not None else None,
            )
            for domain in unique
        ]

    def _forget(self, domain: str, _: object = None) -> None:
        self._states.drop(domain)

    async def _company_states(self, domains: list[str], fresh: bool = False) -> dict[str, CompanyState]:
        states = {} if fresh else {d: s for d in domains if (s := self._states.get(d)) is not None}
        missing = [d for d in domains if d not in states]
        if missing:
            found = await self.repository.companies_by_domain(missing)
            for domain, state in found.items():
                self._states.put(domain, state)
            states.update(found)
        return states

    def _fetched_signals(
        self, state: CompanyState | None, terms: dict[str, str], now: datetime
    ) -> list[Signal]:
        if state is None:
            return []
        technology = technology_signals(
            state.sightings, terms, state.baseline_time, self.policy.competitor_evaluation, now
        )
        return [*state.hiring_signals, *technology]

    async def _track(self, domains: list[str], states: dict[str, CompanyState], now: datetime) -> None:
        fresh_since = now.timestamp() - TRACK_GRANULARITY.total_seconds()
        new = [d for d in domains if d not in states]
        stale = [d for d in domains if d in states and states[d].last_request_epoch < fresh_since]
        await self.repository.track(new, stale, now)
        for domain in stale:  # read again next time, with this request's time
            self._states.drop(domain)

    async def _engagement(
        self, account_id: str, domains: list[str], categories: frozenset[Category], now: datetime
    ) -> list[EngagementTotal]:
        if categories and Category.ENGAGEMENT not in categories:
            return []
        totals = {d: hit for d in domains if (hit := self._totals.get((account_id, d))) is not None}
        missing = [d for d in domains if d not in totals]
        if missing:
            found = await self.events.engagement_totals(
                account_id, missing, now - self.policy.engagement_window
            )
            for domain in missing:
                totals[domain] = tuple(t for t in found if t.domain == domain)
                self._totals.put((account_id, domain), totals[domain])
        return [total for domain in domains for total in totals[domain]]

    async def _competitors(
        self, account_id: str, categories: frozenset[Category], time_left: float
    ) -> tuple[str, ...]:
        if categories and Category.TECHNOLOGY not in categories:
            return ()
        return await self.competitors.competitors(account_id, time_left)

    async def purge_expired(self) -> None:
        """The maintenance job: events past their retention, old request answers and markers."""
        now = self.clock()
        deleted = await self.events.purge(now, self.policy.event_retention)
        await self.repository.purge(now)
        if deleted:
            log.info("expired events deleted", extra={"count": deleted})

    # the weekly refresh

    async def refresh_for_period(self, raw_domain: str, period: str, sources: Iterable[Source]) -> bool:
        """The scheduled refresh of a company for ``period``, once: False when it was done already."""
        domain = normalize_domain(raw_domain)
        if domain is None or not period:
            log.error("refresh event without a company domain or period", extra={"domain": raw_domain[:100]})
            return False
        state = await self.repository.company(domain)
        if state is not None and state.refresh_period >= period:
            log.info("refresh already done", extra={"domain": domain, "period": period})
            return False
        await self.runner.run(domain, tuple(s for s in (tuple(sources) or FETCHED_SOURCES) if s.fetched))
        await self.repository.complete_period(domain, period)
        self._states.drop(domain)
        return True

    # first-party events

    async def record_events(
        self, account_id: str, events: Sequence[WebEventInput], request_id: str, body_hash: str
    ) -> EventsAnswer:
        """Keeps the valid events of an account; a retry with the same ``request_id`` gets the first
        answer and records nothing twice, the same id with other events is a conflict."""
        if not account_id:
            raise InvalidArgument("account_id is required", reason="ACCOUNT_REQUIRED")
        request_id = request_id.strip()
        if len(request_id) > MAX_REQUEST_ID:
            raise InvalidArgument(
                f"request_id is longer than {MAX_REQUEST_ID} characters", reason="INVALID_REQUEST_ID"
            )
        if request_id:
            stored = await self.events.stored_answer(account_id, request_id)
            if stored is not None:
                return self._replay(stored, body_hash)
        now = self.clock()
        accepted, rejected = validate_events(events, now, self.policy.max_events)
        await self.events.insert_events(account_id, request_id or new_id("evreq"), accepted, now)
        for event in accepted:
            self._totals.drop((account_id, event.domain))
        answer = StoredAnswer(body_hash, len(accepted), rejected)
        if request_id:
            return self._replay(
                await self.events.store_answer(account_id, request_id, answer, now), body_hash
            )
        return EventsAnswer(answer.accepted_count, answer.rejected)

    @staticmethod
    def _replay(stored: StoredAnswer, body_hash: str) -> EventsAnswer:
        if stored.body_hash != body_hash:
            raise Conflict("this request_id was used with other events", reason="REQUEST_ID_REUSED")
        return EventsAnswer(stored.accepted_count, stored.rejected)
