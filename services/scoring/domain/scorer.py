"""The explainable 0-100 fit score of one lead against one profile version.

How a score is made:

* Fit: the matched share of the profile's total weight, ``round(100 * matched / total)``, so a
  lead matching every weighted criterion scores 100 whatever the weights add up to (weights
  that add up to 100 are the points themselves). Each matched criterion is a signal whose
  points are its share of the fit (largest remainders, so the signals add up to the fit
  exactly). A criterion with weight 0 that matches is reported with 0 points.
* Missing data (no seniority, no title, unknown size...) is neither a match nor a mismatch: it
  earns nothing and lowers ``confidence``, the share of the total weight whose data was there.
* Intent adds at most ``intent_boost_max`` points (``intent_boost`` signal), up to 100.
* Each matched exclusion, including working for a competitor, subtracts ``exclusions.penalty``
  points (a negative signal). The result is clamped to 0-100 and tiered by the profile.

What each criterion and exclusion checks is in :mod:`services.scoring.domain.rules`, one function
each. :class:`IcpScorer` makes the rules a profile uses once (sets, one regular expression per
keyword list; each combination of matched criteria apportioned the first time it is seen), then
runs them over each lead in a tight loop.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import NamedTuple

from services.scoring.domain.intent import competitor_pattern, intent_boost
from services.scoring.domain.profile import CRITERIA, IcpProfile, Tiers
from services.scoring.domain.rules import CRITERION_RULES, EXCLUSION_RULES, Subject

__all__ = ["IcpScore", "IcpScorer", "IcpSignal", "IcpTier", "Subject", "tier_of"]

_SIGNAL_NAMES = tuple(CRITERIA.values())


class IcpTier(enum.StrEnum):
    HIGH_PRIORITY = "high_priority"
    NURTURE = "nurture"
    DEPRIORITIZE = "deprioritize"


class IcpSignal(NamedTuple):
    name: str
    points: int
    detail: str


class IcpScore(NamedTuple):
    score: int
    tier: IcpTier
    signals: tuple[IcpSignal, ...]
    confidence: float
    profile_version: int


# ``_new(IcpSignal, (name, points, detail))`` is ``IcpSignal(name, points, detail)`` without the
# named tuple's Python-level ``__new__``: half the cost, and the scorer makes several per lead.
_new = tuple.__new__


def tier_of(score: int, tiers: Tiers) -> IcpTier:
    if score >= tiers.high_priority:
        return IcpTier.HIGH_PRIORITY
    if score >= tiers.nurture:
        return IcpTier.NURTURE
    return IcpTier.DEPRIORITIZE


def _apportion(weights: tuple[int, ...], mask: int) -> tuple[int, tuple[int, ...]]:
    """The fit of a set of matched criteria (bit i: criterion i) and each one's integer points."""
    total = sum(weights)
    matched = [i for i in range(len(weights)) if mask >> i & 1]
    if total == 0:
        return 0, tuple(0 for _ in weights)
    share = sum(weights[i] for i in matched)
    fit = (200 * share + total) // (2 * total)  # round half up
    points = [0] * len(weights)
    for i in matched:
        points[i] = 100 * weights[i] // total
    left = fit - sum(points)
    by_remainder = sorted(matched, key=lambda i: (-(100 * weights[i] % total), i))
    for i in by_remainder[:left]:
        points[i] += 1
    return fit, tuple(points)


def _fit(weights: tuple[int, ...], mask: int) -> tuple[int, tuple[tuple[str, int], ...]]:
    """The fit of a set of matched criteria and the (signal name, points) of each, in order."""
    fit, points = _apportion(weights, mask)
    return fit, tuple((_SIGNAL_NAMES[i], points[i]) for i in range(len(weights)) if mask >> i & 1)


def _coverage(weights: tuple[int, ...], mask: int) -> float:
    """The share of the total weight whose data was there (bit i: criterion i)."""
    total = sum(weights)
    covered = sum(weight for i, weight in enumerate(weights) if mask >> i & 1)
    return round(covered / total, 3) if total else 0.0


class IcpScorer:
    """One profile version, compiled for scoring many leads."""

    def __init__(self, profile: IcpProfile, version: int):
        self.profile = profile
        self.version = version
        self.tiers = profile.tiers
        self.boost_max = profile.intent_boost_max
        self.penalty = profile.exclusions.penalty
        self._tier_of_score = tuple(tier_of(score, profile.tiers) for score in range(101))
        self._weights = tuple(criterion.weight for _, criterion in profile.criteria())
        # By bit mask (bit i: criterion i of CRITERIA) of the matched criteria: the fit and the
        # (signal name, points) of each; of the criteria with data: the confidence. Each worked
        # out the first time a lead has that mask.
        masks = 1 << len(CRITERIA)
        self._fits: list[tuple[int, tuple[tuple[str, int], ...]] | None] = [None] * masks
        self._coverage: list[float | None] = [None] * masks
        # (bit, rule) of the criteria the profile uses; (signal name, rule) of its exclusions.
        self._criteria = tuple(
            (1 << index, judge)
            for index, make in enumerate(CRITERION_RULES.values())
            if (judge := make(profile)) is not None
        )
        self._exclusions = tuple(
            (name, exclude)
            for name, make in EXCLUSION_RULES.items()
            if (exclude := make(profile)) is not None
        )
        self._competitor_mentions = competitor_pattern(profile.competitors)

    def score_all(self, subjects: Iterable[Subject], now: float) -> list[IcpScore]:
        return [self.score(subject, now) for subject in subjects]

    def score(self, subject: Subject, now: float) -> IcpScore:
        """The lead's score: the signals of its matched criteria (in the order of CRITERIA), its
        intent boost, then its exclusions."""
        matched = present = 0
        details: list[str] = []
        for bit, judge in self._criteria:
            detail = judge(subject)
            if detail is not None:
                present |= bit
                if detail is not False:
                    matched |= bit
                    details.append(detail)
        penalty = self.penalty
        negative: list[IcpSignal] = []
        for name, exclude in self._exclusions:
            excluded = exclude(subject)
            if excluded is not None:
                negative.append(_new(IcpSignal, (name, -penalty, excluded)))

        fitted = self._fits[matched]
        if fitted is None:
            fitted = self._fits[matched] = _fit(self._weights, matched)
        fit, earned = fitted
        signals = [
            _new(IcpSignal, (name, points, detail))
            for (name, points), detail in zip(earned, details, strict=True)
        ]
        score = fit
        if subject.intents and self.boost_max:
            boost = intent_boost(subject.intents, self.boost_max, now, self._competitor_mentions)
            if boost.points:
                signals.append(_new(IcpSignal, ("intent_boost", boost.points, boost.detail)))
                score = min(100, score + boost.points)
        if negative:
            signals.extend(negative)
            score = max(0, score - penalty * len(negative))
        confidence = self._coverage[present]
        if confidence is None:
            confidence = self._coverage[present] = _coverage(self._weights, present)
        tier = self._tier_of_score[score]
        return _new(IcpScore, (score, tier, tuple(signals), confidence, self.version))
