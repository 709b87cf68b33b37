"""What the service knows about one company, and when a fetched source is due again."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.intent.domain.signals import Signal, Source
from services.intent.domain.technology import Sighting

__all__ = ["CompanyState", "FetchStatus", "SourceState", "due_sources", "retry_delay"]


class FetchStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True)
class SourceState:
    """The last fetch of one source: when, whether it worked, and why not; ``failures`` is how
    many fetches in a row failed (0 after one that worked)."""

    status: FetchStatus
    fetch_time: datetime
    error: str = ""
    failures: int = 0


@dataclass(frozen=True)
class CompanyState:
    domain: str
    hiring: SourceState | None = None
    hiring_signals: tuple[Signal, ...] = ()
    technology: SourceState | None = None
    sightings: tuple[Sighting, ...] = ()
    # The first technology scan that worked: what it saw cannot be told apart from an old habit.
    baseline_time: datetime | None = None
    # Every technology ever seen -> when it was first seen.
    first_seen: dict[str, datetime] = field(default_factory=dict)
    # The last weekly period whose scheduled refresh completed ("" if none).
    refresh_period: str = ""
    # When the company was last asked about (POSIX seconds; 0 if never).
    last_request_epoch: int = 0

    def source(self, source: Source) -> SourceState | None:
        return {Source.HIRING: self.hiring, Source.TECHNOLOGY: self.technology}.get(source)

    @property
    def refresh_time(self) -> datetime | None:
        """When a fetched source was last read."""
        times = [state.fetch_time for state in (self.hiring, self.technology) if state is not None]
        return max(times) if times else None


def retry_delay(failures: int, first: timedelta, longest: timedelta) -> timedelta:
    """How long a source that failed ``failures`` times in a row is left alone: ``first`` after one
    failure, doubled after each further one, at most ``longest``."""
    if failures <= 1:
        return min(first, longest)
    doubled: timedelta = first * 2 ** min(failures - 1, 30)
    return min(doubled, longest)


def due_sources(
    state: CompanyState | None,
    sources: tuple[Source, ...],
    now: datetime,
    *,
    retry_failed_after: timedelta,
    retry_failed_max: timedelta | None = None,
) -> tuple[Source, ...]:
    """The fetched sources among ``sources`` that a request must fetch: never fetched, or failed
    long enough ago to try again (:func:`retry_delay`). Sources that worked wait for the weekly
    refresh."""
    longest = retry_failed_after if retry_failed_max is None else max(retry_failed_max, retry_failed_after)
    due = []
    for source in sources:
        if not source.fetched:
            continue
        last = state.source(source) if state is not None else None
        if last is None or (
            last.status is FetchStatus.FAILED
            and now - last.fetch_time >= retry_delay(last.failures, retry_failed_after, longest)
        ):
            due.append(source)
    return tuple(due)
