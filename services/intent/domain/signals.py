"""What an intent signal is, how it fades, and the refresh period a company is refreshed in."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "FETCHED_SOURCES",
    "Category",
    "CurrentSignal",
    "HalfLives",
    "Signal",
    "Source",
    "count_boost",
    "current_signals",
    "refresh_period",
]

_DAY = 86_400.0


class Category(enum.StrEnum):
    HIRING = "hiring"
    TECHNOLOGY = "technology"
    ENGAGEMENT = "engagement"


class Source(enum.StrEnum):
    """Where a company's signals come from. Hiring and technology are fetched; web activity is sent."""

    HIRING = "hiring"
    TECHNOLOGY = "technology"
    WEB_ACTIVITY = "web_activity"

    @property
    def category(self) -> Category:
        return _SOURCE_CATEGORY[self]

    @property
    def fetched(self) -> bool:
        return self is not Source.WEB_ACTIVITY


_SOURCE_CATEGORY = {
    Source.HIRING: Category.HIRING,
    Source.TECHNOLOGY: Category.TECHNOLOGY,
    Source.WEB_ACTIVITY: Category.ENGAGEMENT,
}

FETCHED_SOURCES = (Source.HIRING, Source.TECHNOLOGY)


@dataclass(frozen=True)
class Signal:
    """One observation about a company, at full strength (``base_strength``, 0-100) when observed."""

    name: str
    category: Category
    base_strength: int
    observed_time: datetime
    # e.g. "greenhouse", "homepage", "web_events".
    source: str
    # e.g. job titles, the detected script.
    evidence: tuple[str, ...] = ()
    count: int = 1


@dataclass(frozen=True)
class CurrentSignal:
    """A signal with its strength now."""

    signal: Signal
    strength: int


@dataclass(frozen=True)
class HalfLives:
    """Days after which a signal of each category counts half as much."""

    hiring: float = 30.0
    technology: float = 90.0
    engagement: float = 14.0

    def of(self, category: Category) -> float:
        days: float = getattr(self, category.value)
        return days

    def strength(self, signal: Signal, now: datetime) -> int:
        """``base_strength`` halved every half-life since the signal was observed (never above 100)."""
        age_days = max(0.0, (now - signal.observed_time).total_seconds()) / _DAY
        decayed = signal.base_strength * math.pow(0.5, age_days / self.of(signal.category))
        return max(0, min(100, round(decayed)))


def count_boost(base: int, count: int, per_doubling: int = 10) -> int:
    """A base strength raised by ``per_doubling`` points each time the count doubles, at most 100."""
    if count <= 1:
        return max(0, min(100, base))
    return max(0, min(100, base + round(per_doubling * math.log2(count))))


def current_signals(
    signals: Iterable[Signal], now: datetime, half_lives: HalfLives, categories: frozenset[Category]
) -> list[CurrentSignal]:
    """The signals of ``categories`` (all when empty) with their strength now, strongest first.

    A signal decayed to nothing is left out.
    """
    current = [
        CurrentSignal(signal, half_lives.strength(signal, now))
        for signal in signals
        if not categories or signal.category in categories
    ]
    current = [item for item in current if item.strength > 0]
    current.sort(key=lambda item: (-item.strength, item.signal.name))
    return current


def refresh_period(now: datetime) -> str:
    """The ISO week (``2026-W48``) a weekly refresh belongs to; strings of periods sort in time order."""
    year, week, _ = now.astimezone(UTC).isocalendar()
    return f"{year:04d}-W{week:02d}"
