"""The intent boost: recent buying signals add a bounded number of points to a fit score.

Each signal's strength (0-100) decays from its ``base_strength`` by half every half-life of its
category, measured from when it was observed to when the lead is scored; a signal without an
observation time keeps the strength it came with. A signal that mentions one of the profile's
competitors counts 1.5 times (evaluating a competitor is the strongest sign of a purchase).
Signals combine like independent chances, ``1 - prod(1 - s/100)``, so more signals never lower
the boost and it never exceeds the profile's ``intent_boost_max``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "HALF_LIFE_DAYS",
    "IntentBoost",
    "IntentCategory",
    "IntentObservation",
    "competitor_pattern",
    "intent_boost",
]

COMPETITOR_FACTOR = 1.5
DETAIL_SIGNALS = 3
_DAY = 86_400.0


class IntentCategory(enum.StrEnum):
    HIRING = "hiring"
    TECHNOLOGY = "technology"
    ENGAGEMENT = "engagement"
    OTHER = "other"


HALF_LIFE_DAYS: dict[IntentCategory, float] = {
    IntentCategory.HIRING: 30.0,
    IntentCategory.TECHNOLOGY: 90.0,
    IntentCategory.ENGAGEMENT: 14.0,
    IntentCategory.OTHER: 30.0,
}


class IntentObservation(NamedTuple):
    """One intent signal about the lead's company. ``observed_at`` is POSIX seconds."""

    name: str
    category: IntentCategory = IntentCategory.OTHER
    strength: int = 0
    base_strength: int = 0
    observed_at: float | None = None
    source: str = ""
    evidence: tuple[str, ...] = ()


class IntentBoost(NamedTuple):
    points: int
    detail: str


def competitor_pattern(competitors: Iterable[str]) -> re.Pattern[str] | None:
    """Finds a competitor's name as a whole word in lower-cased text (``evaluated_outreach``)."""
    terms = sorted({term.lower() for term in competitors if term}, key=len, reverse=True)
    if not terms:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, terms)) + r")(?![a-z0-9])")


def _strength(signal: IntentObservation, now: float) -> float:
    if signal.observed_at is None or signal.base_strength <= 0:
        strength = float(signal.strength)
    else:
        age_days = max(0.0, now - signal.observed_at) / _DAY
        half_life = HALF_LIFE_DAYS.get(signal.category, HALF_LIFE_DAYS[IntentCategory.OTHER])
        strength = signal.base_strength * 0.5 ** (age_days / half_life)
    return min(100.0, max(0.0, strength))


def _mention(signal: IntentObservation, competitors: re.Pattern[str] | None) -> str:
    if competitors is None:
        return ""
    text = " ".join((signal.name, signal.source, *signal.evidence)).lower()
    found = competitors.search(text)
    return found.group(0) if found else ""


def intent_boost(
    signals: Sequence[IntentObservation], maximum: int, now: float, competitors: re.Pattern[str] | None
) -> IntentBoost:
    """The boost (0 to ``maximum`` points) and which signals made it, strongest first."""
    if not signals or maximum <= 0:
        return IntentBoost(0, "")
    remaining = 1.0
    ranked: list[tuple[float, str]] = []
    for signal in signals:
        strength = _strength(signal, now)
        competitor = _mention(signal, competitors)
        if competitor:
            strength = min(100.0, strength * COMPETITOR_FACTOR)
        if strength <= 0:
            continue
        remaining *= 1.0 - strength / 100.0
        label = f"{signal.name} ({competitor})" if competitor else signal.name
        ranked.append((strength, label or "unnamed"))
    points = int(maximum * (1.0 - remaining) + 0.5)
    if points <= 0:
        return IntentBoost(0, "")
    ranked.sort(key=lambda item: -item[0])
    return IntentBoost(min(points, maximum), ", ".join(label for _, label in ranked[:DETAIL_SIGNALS]))
