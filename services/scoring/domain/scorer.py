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

:class:`IcpScorer` compiles a profile once (sets, one regular expression per keyword list,
every combination of matched criteria apportioned in advance), then scores in a tight loop.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import NamedTuple

from services.scoring.domain.intent import IntentObservation, competitor_pattern, intent_boost
from services.scoring.domain.profile import CRITERIA, IcpProfile, Tiers
from services.scoring.domain.vocabulary import (
    CompanySize,
    Department,
    RevenueRange,
    Seniority,
    size_of_headcount,
)

__all__ = ["IcpScore", "IcpScorer", "IcpSignal", "IcpTier", "Subject", "tier_of"]

_SIGNAL_NAMES = tuple(CRITERIA.values())
_TITLE_CACHE_LIMIT = 4_096
_TECH_DETAIL = 5


class IcpTier(enum.StrEnum):
    HIGH_PRIORITY = "high_priority"
    NURTURE = "nurture"
    DEPRIORITIZE = "deprioritize"


class Subject(NamedTuple):
    """What is known of a lead: empty strings, None and 0 mean unknown."""

    seniority: Seniority | None = None
    department: Department | None = None
    title: str = ""
    company_name: str = ""
    company_domain: str = ""
    company_size: CompanySize | None = None
    employee_count: int = 0
    industry: str = ""
    revenue: RevenueRange | None = None
    person_country: str = ""
    company_country: str = ""
    technologies: tuple[str, ...] = ()
    intents: tuple[IntentObservation, ...] = ()


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


def _coverage(weights: tuple[int, ...], mask: int) -> float:
    """The share of the total weight whose data was there (bit i: criterion i)."""
    total = sum(weights)
    covered = sum(weight for i, weight in enumerate(weights) if mask >> i & 1)
    return round(covered / total, 3) if total else 0.0


def _keywords(terms: Iterable[str]) -> re.Pattern[str] | None:
    """Any of ``terms`` as whole words (plural allowed) in lower-cased text; words may be
    separated by any run of non-alphanumerics ("sales operations" matches "Sales-Operations")."""
    alternatives = sorted(
        {r"[^a-z0-9]+".join(map(re.escape, term.split())) for term in terms if term.strip()},
        key=len,
        reverse=True,
    )
    if not alternatives:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")s?(?![a-z0-9])")


def _lookup(values: Iterable[str]) -> dict[str, str] | None:
    table = {value.casefold(): value for value in values}
    return table or None


class IcpScorer:
    """One profile version, compiled for scoring many leads."""

    def __init__(self, profile: IcpProfile, version: int):
        self.profile = profile
        self.version = version
        self.tiers = profile.tiers
        self.boost_max = profile.intent_boost_max
        self.penalty = profile.exclusions.penalty
        criteria = profile.criteria()
        self._weights = tuple(criterion.weight for _, criterion in criteria)
        # By bit mask of matched criteria: (fit, points of each); of criteria with data: confidence.
        self._points: dict[int, tuple[int, tuple[int, ...]]] = {}
        self._coverage: dict[int, float] = {}
        self._seniorities = frozenset(profile.seniorities.values) or None
        self._departments = frozenset(profile.departments.values) or None
        self._title = _keywords(profile.title_keywords.values)
        self._sizes = frozenset(profile.company_sizes.values) or None
        self._industries = _lookup(profile.industries.values)
        self._revenues = frozenset(profile.revenues.values) or None
        self._countries = frozenset(profile.countries.values) or None
        self._technologies = frozenset(profile.technologies.values) or None
        exclusions = profile.exclusions
        self._x_industries = _lookup(exclusions.industries)
        self._x_title = _keywords(exclusions.title_keywords)
        self._x_seniorities = frozenset(exclusions.seniorities) or None
        self._x_domains = frozenset(exclusions.company_domains) or None
        self._x_countries = frozenset(exclusions.countries) or None
        self._competitors = frozenset(profile.competitors) or None
        self._competitor_mentions = competitor_pattern(profile.competitors)
        self._titles: dict[str, tuple[str, str]] = {}

    def _title_hits(self, title: str) -> tuple[str, str]:
        """(matched target keyword, matched excluded keyword) of a title, remembered."""
        hits = self._titles.get(title)
        if hits is None:
            lowered = title.lower()
            found = self._title.search(lowered) if self._title else None
            excluded = self._x_title.search(lowered) if self._x_title else None
            hits = (found.group(0) if found else "", excluded.group(0) if excluded else "")
            if len(self._titles) >= _TITLE_CACHE_LIMIT:
                self._titles.clear()
            self._titles[title] = hits
        return hits

    def _competitor(self, subject: Subject) -> str:
        competitors = self._competitors
        assert competitors is not None
        name = subject.company_name.strip().casefold()
        if name in competitors:
            return name
        domain = subject.company_domain.lower()
        while "." in domain:  # app.outreach.io: "app.outreach.io", "app", "outreach.io", "outreach"
            label, _, parent = domain.partition(".")
            if domain in competitors or label in competitors:
                return domain if domain in competitors else label
            domain = parent
        return ""

    def score_all(self, subjects: Iterable[Subject], now: float) -> list[IcpScore]:
        return [self.score(subject, now) for subject in subjects]

    def score(self, subject: Subject, now: float) -> IcpScore:
        matched = present = 0
        details: list[tuple[int, str]] = []
        negative: list[IcpSignal] = []
        penalty = self.penalty

        seniority = subject.seniority
        if seniority is not None:
            if self._seniorities is not None:
                present |= 1
                if seniority in self._seniorities:
                    matched |= 1
                    details.append((0, seniority.value))
            if self._x_seniorities is not None and seniority in self._x_seniorities:
                negative.append(IcpSignal("excluded_seniority", -penalty, seniority.value))
        department = subject.department
        if department is not None and self._departments is not None:
            present |= 2
            if department in self._departments:
                matched |= 2
                details.append((1, department.value))
        title = subject.title
        if title and (self._title is not None or self._x_title is not None):
            keyword, excluded = self._title_hits(title)
            if self._title is not None:
                present |= 4
                if keyword:
                    matched |= 4
                    details.append((2, keyword))
            if excluded:
                negative.append(IcpSignal("excluded_title", -penalty, excluded))
        if self._sizes is not None:
            size = subject.company_size or size_of_headcount(subject.employee_count)
            if size is not None:
                present |= 8
                if size in self._sizes:
                    matched |= 8
                    details.append((3, size.value))
        industry = subject.industry
        if industry:
            key = industry.strip().casefold()
            if self._industries is not None:
                present |= 16
                if key in self._industries:
                    matched |= 16
                    details.append((4, self._industries[key]))
            if self._x_industries is not None and key in self._x_industries:
                negative.append(IcpSignal("excluded_industry", -penalty, self._x_industries[key]))
        revenue = subject.revenue
        if revenue is not None and self._revenues is not None:
            present |= 32
            if revenue in self._revenues:
                matched |= 32
                details.append((5, revenue.value))
        person_country, company_country = subject.person_country, subject.company_country
        if person_country or company_country:
            person_country, company_country = person_country.upper(), company_country.upper()
            if self._countries is not None:
                present |= 64
                where = person_country if person_country in self._countries else company_country
                if where in self._countries:
                    matched |= 64
                    details.append((6, where))
            if self._x_countries is not None:
                where = person_country if person_country in self._x_countries else company_country
                if where in self._x_countries:
                    negative.append(IcpSignal("excluded_country", -penalty, where))
        technologies = subject.technologies
        if technologies and self._technologies is not None:
            present |= 128
            used = [tech for tech in technologies if tech.lower() in self._technologies]
            if used:
                matched |= 128
                details.append((7, ", ".join(used[:_TECH_DETAIL])))
        if self._x_domains is not None and subject.company_domain:
            domain = subject.company_domain.lower()
            while domain:
                if domain in self._x_domains:
                    negative.append(IcpSignal("excluded_company", -penalty, domain))
                    break
                domain = domain.partition(".")[2]
        if self._competitors is not None and (subject.company_name or subject.company_domain):
            competitor = self._competitor(subject)
            if competitor:
                negative.append(IcpSignal("excluded_competitor", -penalty, competitor))

        fitted = self._points.get(matched)
        if fitted is None:
            fitted = self._points[matched] = _apportion(self._weights, matched)
        fit, points = fitted
        signals = [IcpSignal(_SIGNAL_NAMES[i], points[i], detail) for i, detail in details]
        score = fit
        if subject.intents and self.boost_max:
            boost = intent_boost(subject.intents, self.boost_max, now, self._competitor_mentions)
            if boost.points:
                signals.append(IcpSignal("intent_boost", boost.points, boost.detail))
                score = min(100, score + boost.points)
        if negative:
            signals.extend(negative)
            score = max(0, score - penalty * len(negative))
        confidence = self._coverage.get(present)
        if confidence is None:
            confidence = self._coverage[present] = _coverage(self._weights, present)
        return IcpScore(score, tier_of(score, self.tiers), tuple(signals), confidence, self.version)
