"""Test-mode signals (an ``lm_test_`` key): what the sandbox's companies publish (their homepage
and job board, :mod:`services.demo_world.sites`) read by the same parsers and rules as a live
fetch, with no HTTP request and nothing stored.

Hiring signals come from the company's openings, technology signals from its homepage (a
competitor the account named in its ICP shows as ``uses_competitor``). A lapsed sandbox company
or a domain outside the sandbox has no signals. First-party web activity is not part of the
sandbox (it is the account's own, live, data): a test key's events are checked and counted, never
stored. The world's clock is the start of the current UTC
day, so a company's answer is the same all day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from libs.errors import InvalidArgument
from libs.mongo import Document, utc_now
from libs.normalize import normalize_domain
from services.demo_world.sandbox import Sandbox, sandbox
from services.demo_world.sites import GREENHOUSE, board_document, homepage, openings
from services.intent.competitors import CompetitorDirectory
from services.intent.domain import (
    Category,
    Signal,
    TechnologyCatalog,
    WebEventInput,
    current_signals,
    extract_page,
    merge_sightings,
    technology_signals,
    validate_events,
)
from services.intent.domain.hiring import hiring_signals
from services.intent.intent_signals import CompanyView, EventsAnswer, IntentPolicy
from services.intent.sources.boards import parse_greenhouse, parse_lever

__all__ = ["SandboxSignals"]


class SandboxSignals:
    def __init__(
        self, catalog: TechnologyCatalog, competitors: CompetitorDirectory, policy: IntentPolicy
    ) -> None:
        self.catalog = catalog
        self.competitors = competitors
        self.policy = policy
        self._companies: dict[str, Document] | None = None

    async def companies(
        self, account_id: str, raw_domains: Sequence[str], categories: frozenset[Category], time_left: float
    ) -> list[CompanyView]:
        """One view per domain, in order, as :meth:`IntentSignals.companies` answers."""
        if len(raw_domains) > self.policy.max_batch_domains:
            raise InvalidArgument(
                f"at most {self.policy.max_batch_domains} domains per call, got {len(raw_domains)}",
                reason="TOO_MANY_DOMAINS",
            )
        world = await sandbox()
        known = self._known(world)
        wanted = not categories or Category.TECHNOLOGY in categories
        competitors = await self.competitors.competitors(account_id, time_left) if wanted else ()
        terms = self.catalog.competitor_terms(competitors)
        now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        views = []
        for raw in raw_domains:
            domain = normalize_domain(raw) or raw
            company = known.get(domain)
            signals = self._signals(company, terms, now) if company is not None else []
            views.append(
                CompanyView(domain, current_signals(signals, now, self.policy.half_lives, categories))
            )
        return views

    def check_events(self, events: Sequence[WebEventInput]) -> EventsAnswer:
        """What recording ``events`` would answer; nothing is stored."""
        accepted, rejected = validate_events(events, utc_now(), self.policy.max_events)
        return EventsAnswer(len(accepted), rejected)

    def _known(self, world: Sandbox) -> dict[str, Document]:
        """The sandbox's companies that publish anything (a lapsed domain does not), by domain."""
        if self._companies is None:
            self._companies = {
                str(c["domain"]): c
                for c in world.directory.companies
                if str(c["domain"]) not in world.plan.lapsed
            }
        return self._companies

    def _signals(self, company: Document, terms: dict[str, str], now: datetime) -> list[Signal]:
        page = homepage(company)
        detections = self.catalog.detect(extract_page(page.html, page.headers, page.cookies))
        sightings = merge_sightings(detections, {}, now - timedelta(days=1))
        board, jobs = openings(company, now)
        document = board_document(board, jobs)
        postings = parse_greenhouse(document) if board == GREENHOUSE else parse_lever(document)
        technology = technology_signals(sightings, terms, None, self.policy.competitor_evaluation, now)
        return [*hiring_signals(postings, now), *technology]
