"""First-party web activity: which events a customer may send, their checks, and the signals they make.

An event names a company by its domain, or by a visitor's work email. Each rejected event is
reported with its index and a stable reason; the others are kept. Per company and event type the
kept events add up to one signal: its count, when it was last seen, and the latest page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from libs.errors import InvalidArgument
from libs.normalize import email_domain, is_free_email_domain, normalize_domain, normalize_email
from services.intent.domain.signals import Category, Signal, count_boost

__all__ = [
    "EVENT_TYPES",
    "AcceptedEvent",
    "EngagementTotal",
    "EventRecord",
    "Rejection",
    "WebEventInput",
    "engagement_signals",
    "total_events",
    "validate_events",
]

# Known event types and the strength (0-100) of one such event, seen just now.
EVENT_TYPES: dict[str, int] = {
    "demo_request": 90,
    "trial_signup": 85,
    "contact_sales": 80,
    "competitor_comparison_view": 70,
    "pricing_page_view": 60,
    "case_study_view": 45,
    "webinar_registration": 45,
    "integration_page_view": 40,
    "content_download": 40,
    "docs_view": 35,
}

SOURCE = "web_events"
MAX_URL = 2048
# A clock a little ahead of ours is not an event "in the future".
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class WebEventInput:
    """An event as a client sent it."""

    domain: str = ""
    email: str = ""
    type: str = ""
    occurred_time: datetime | None = None
    # The client's text when it sent no typed time (REST); read only when occurred_time is None.
    occurred_time_text: str = ""
    url: str = ""


@dataclass(frozen=True)
class AcceptedEvent:
    index: int
    domain: str
    type: str
    occurred_time: datetime
    url: str
    # A one-way digest of the visitor's email (never the email itself), or "".
    visitor: str


@dataclass(frozen=True)
class Rejection:
    index: int
    # Stable snake_case a client can branch on.
    reason: str
    message: str


class _Rejected(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def _occurred_time(event: WebEventInput, now: datetime) -> datetime:
    if event.occurred_time is not None:
        when = event.occurred_time
    elif event.occurred_time_text.strip():
        try:
            when = datetime.fromisoformat(event.occurred_time_text.strip())
        except ValueError:
            raise _Rejected(
                "unparseable_time",
                f"occurred_at {event.occurred_time_text[:64]!r} is not an RFC 3339 time",
            ) from None
    else:
        return now
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when > now + CLOCK_SKEW:
        raise _Rejected("future_time", f"occurred_at {when.isoformat()} is in the future")
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _company(event: WebEventInput) -> tuple[str, str]:
    """(company domain, visitor digest) of an event."""
    visitor = ""
    email_company = ""
    if event.email.strip():
        email = normalize_email(event.email)
        if email is None:
            raise _Rejected("invalid_email", "email is not a valid address")
        visitor = hashlib.sha256(email.encode()).hexdigest()[:24]
        email_company = email_domain(email) or ""
    if event.domain.strip():
        domain = normalize_domain(event.domain)
        if domain is None:
            raise _Rejected("invalid_domain", f"domain {event.domain[:64]!r} is not a company domain")
        return domain, visitor
    if not event.email.strip():
        raise _Rejected("missing_domain", "an event needs a company domain or a visitor email")
    if not email_company:
        raise _Rejected("invalid_email", "the email's domain is not a company domain")
    if is_free_email_domain(email_company):
        raise _Rejected(
            "personal_email",
            f"{email_company} is a personal mailbox provider; send the company domain",
        )
    return email_company, visitor


def _check(index: int, event: WebEventInput, now: datetime) -> AcceptedEvent:
    event_type = event.type.strip().lower()
    if event_type not in EVENT_TYPES:
        raise _Rejected(
            "unknown_type",
            f"unknown event type {event.type[:64]!r}; known types: {', '.join(sorted(EVENT_TYPES))}",
        )
    domain, visitor = _company(event)
    return AcceptedEvent(
        index=index,
        domain=domain,
        type=event_type,
        occurred_time=_occurred_time(event, now),
        url=event.url.strip()[:MAX_URL],
        visitor=visitor,
    )


def validate_events(
    events: Sequence[WebEventInput], now: datetime, max_events: int
) -> tuple[list[AcceptedEvent], list[Rejection]]:
    """The events to keep and the rejected ones, each with its index in ``events``.

    An event without a time happened when it was received (``now``).
    """
    if not events:
        raise InvalidArgument("send at least one event", reason="NO_EVENTS")
    if len(events) > max_events:
        raise InvalidArgument(
            f"at most {max_events} events per call, got {len(events)}; split them",
            reason="TOO_MANY_EVENTS",
            metadata={"max_events": str(max_events)},
        )
    accepted: list[AcceptedEvent] = []
    rejected: list[Rejection] = []
    for index, event in enumerate(events):
        try:
            accepted.append(_check(index, event, now))
        except _Rejected as problem:
            rejected.append(Rejection(index, problem.reason, problem.message))
    return accepted, rejected


@dataclass(frozen=True)
class EngagementTotal:
    """The events of one type about one company that one account sent, added up."""

    domain: str
    type: str
    count: int
    last_seen: datetime
    latest_url: str = ""
    visitors: int = 0


class EventRecord(NamedTuple):
    """A stored event, as signals need it."""

    domain: str
    type: str
    occurred_time: datetime
    url: str = ""
    visitor: str = ""


def total_events(records: Iterable[EventRecord]) -> list[EngagementTotal]:
    """Events added up per company and type: how many, the latest and its page, distinct visitors."""
    groups: dict[tuple[str, str], list[EventRecord]] = {}
    for record in records:
        groups.setdefault((record.domain, record.type), []).append(record)
    totals = []
    for (domain, event_type), group in groups.items():
        latest = max(group, key=lambda r: (r.occurred_time, r.url))
        visitors = {r.visitor for r in group if r.visitor}
        totals.append(
            EngagementTotal(domain, event_type, len(group), latest.occurred_time, latest.url, len(visitors))
        )
    return totals


def engagement_signals(totals: Iterable[EngagementTotal]) -> list[Signal]:
    """One signal per event type: stronger for more events, as recent as the latest one."""
    signals = []
    for total in totals:
        base = EVENT_TYPES.get(total.type)
        if base is None or total.count <= 0:
            continue
        evidence = [total.latest_url] if total.latest_url else []
        if total.visitors:
            evidence.append(f"{total.visitors} identified visitor{'s' if total.visitors != 1 else ''}")
        signals.append(
            Signal(
                name=total.type,
                category=Category.ENGAGEMENT,
                base_strength=count_boost(base, total.count),
                observed_time=total.last_seen,
                source=SOURCE,
                evidence=tuple(evidence),
                count=total.count,
            )
        )
    return signals
