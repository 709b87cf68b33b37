"""Properties of the score over any valid profile and any lead (hypothesis)."""

from __future__ import annotations

import re
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.domain import (
    CRITERIA,
    CompanySize,
    Criterion,
    Department,
    Exclusions,
    IcpProfile,
    IcpScorer,
    IcpTier,
    IntentCategory,
    IntentObservation,
    RevenueRange,
    Seniority,
    Subject,
    Tiers,
    size_of_headcount,
    validate_profile,
)
from services.scoring.domain.rules import CRITERION_RULES, EXCLUSION_RULES

NOW = 1_800_000_000.0
WORDS = ["revops", "sales operations", "director", "intern", "growth", "head of", "student"]
INDUSTRIES = ["SaaS", "Fintech", "Education", "Retail"]
COUNTRIES = ["US", "GB", "DE", "FR"]
TECHNOLOGIES = ["salesforce", "hubspot", "outreach", "snowflake"]
COMPETITORS = ["outreach", "salesloft"]
DOMAINS = ["acme.com", "outreach.io", "school.edu", "eu.salesloft.com"]

properties = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def criterion(values: st.SearchStrategy[object]) -> st.SearchStrategy[Criterion[object]]:
    return st.builds(
        lambda chosen, weight: Criterion(tuple(chosen), weight if chosen else 0),
        st.lists(values, max_size=4, unique=True),
        st.integers(0, 100),
    )


@st.composite
def profiles(draw: st.DrawFn) -> IcpProfile:
    nurture = draw(st.integers(0, 99))
    profile = IcpProfile(
        seniorities=draw(criterion(st.sampled_from(Seniority))),
        departments=draw(criterion(st.sampled_from(Department))),
        title_keywords=draw(criterion(st.sampled_from(WORDS))),
        company_sizes=draw(criterion(st.sampled_from(CompanySize))),
        industries=draw(criterion(st.sampled_from(INDUSTRIES))),
        revenues=draw(criterion(st.sampled_from(RevenueRange))),
        countries=draw(criterion(st.sampled_from(COUNTRIES))),
        technologies=draw(criterion(st.sampled_from(TECHNOLOGIES))),
        competitors=tuple(draw(st.lists(st.sampled_from(COMPETITORS), unique=True))),
        exclusions=Exclusions(
            industries=tuple(draw(st.lists(st.sampled_from(INDUSTRIES), max_size=1))),
            title_keywords=tuple(
                draw(st.lists(st.sampled_from(["intern", "student"]), max_size=2, unique=True))
            ),
            seniorities=tuple(draw(st.lists(st.sampled_from(Seniority), max_size=1))),
            company_domains=tuple(draw(st.lists(st.sampled_from(DOMAINS), max_size=1))),
            countries=tuple(draw(st.lists(st.sampled_from(COUNTRIES), max_size=1))),
            penalty=draw(st.integers(0, 100)),
        ),
        tiers=Tiers(high_priority=draw(st.integers(nurture + 1, 100)), nurture=nurture),
        intent_boost_max=draw(st.integers(0, 30)),
    )
    if profile.total_weight == 0:
        profile = replace(profile, seniorities=Criterion((Seniority.VP,), draw(st.integers(1, 100))))
    return validate_profile(profile)


intents = st.builds(
    IntentObservation,
    name=st.sampled_from(["hiring_sales_ops", "evaluated_outreach", "pricing_page_view", ""]),
    category=st.sampled_from(IntentCategory),
    strength=st.integers(0, 100),
    base_strength=st.integers(0, 100),
    observed_at=st.none() | st.floats(NOW - 400 * 86_400, NOW + 86_400),
    evidence=st.lists(st.sampled_from(["outreach.io", "job post"]), max_size=2).map(tuple),
)


def maybe(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


subjects = st.builds(
    Subject,
    seniority=maybe(st.sampled_from(Seniority)),
    department=maybe(st.sampled_from(Department)),
    title=st.lists(st.sampled_from([*WORDS, "VP", "of", "Interns", "&"]), max_size=4).map(" ".join),
    company_name=st.sampled_from(["", "Acme", "Outreach", "SalesLoft"]),
    company_domain=st.sampled_from(["", *DOMAINS]),
    company_size=maybe(st.sampled_from(CompanySize)),
    employee_count=st.integers(0, 20_000),
    industry=st.sampled_from(["", *INDUSTRIES, "saas"]),
    revenue=maybe(st.sampled_from(RevenueRange)),
    person_country=st.sampled_from(["", *COUNTRIES, "us"]),
    company_country=st.sampled_from(["", *COUNTRIES]),
    technologies=st.lists(st.sampled_from([*TECHNOLOGIES, "Salesforce"]), max_size=3).map(tuple),
    intents=st.lists(intents, max_size=3).map(tuple),
)


@properties
@given(profiles(), subjects)
def test_the_score_is_within_0_and_100_and_its_signals_add_up_to_it(
    profile: IcpProfile, subject: Subject
) -> None:
    result = IcpScorer(profile, 1).score(subject, NOW)
    assert 0 <= result.score <= 100
    assert 0.0 <= result.confidence <= 1.0
    gained = sum(signal.points for signal in result.signals if signal.points >= 0)
    penalties = [signal.points for signal in result.signals if signal.points < 0]
    assert result.score == max(0, min(100, gained) + sum(penalties))
    names = [signal.name for signal in result.signals]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in names)
    expected_tier = (
        IcpTier.HIGH_PRIORITY
        if result.score >= profile.tiers.high_priority
        else IcpTier.NURTURE
        if result.score >= profile.tiers.nurture
        else IcpTier.DEPRIORITIZE
    )
    assert result.tier == expected_tier


def matching_value(name: str, subject: Subject) -> object | None:
    """A value that makes criterion ``name`` match the subject; None when the subject lacks the data."""
    if name == "seniorities":
        return subject.seniority
    if name == "departments":
        return subject.department
    if name == "title_keywords":
        words = re.findall(r"[a-z0-9]+", subject.title.lower())
        return words[0] if words else None
    if name == "company_sizes":
        return subject.company_size or size_of_headcount(subject.employee_count)
    if name == "industries":
        return subject.industry or None
    if name == "revenues":
        return subject.revenue
    if name == "countries":
        return (subject.person_country or subject.company_country).upper() or None
    return subject.technologies[0] if subject.technologies else None


@properties
@given(profiles(), subjects, st.sampled_from(list(CRITERIA)), st.integers(1, 100))
def test_adding_a_matching_criterion_never_lowers_the_score(
    profile: IcpProfile, subject: Subject, name: str, weight: int
) -> None:
    value = matching_value(name, subject)
    if value is None:
        return
    before = IcpScorer(profile, 1).score(subject, NOW)
    current: Criterion[object] = getattr(profile, name)
    widened = validate_profile(
        replace(profile, **{name: Criterion((*current.values, value), current.weight or weight)})
    )
    after = IcpScorer(widened, 2).score(subject, NOW)
    assert after.score >= before.score
    assert CRITERIA[name] in {signal.name for signal in after.signals}


@properties
@given(profiles(), subjects, intents)
def test_another_intent_signal_never_lowers_the_score(
    profile: IcpProfile, subject: Subject, intent: IntentObservation
) -> None:
    before = IcpScorer(profile, 1).score(subject, NOW)
    after = IcpScorer(profile, 1).score(subject._replace(intents=(*subject.intents, intent)), NOW)
    assert after.score >= before.score
    boost = [signal.points for signal in after.signals if signal.name == "intent_boost"]
    assert all(0 < points <= profile.intent_boost_max for points in boost)


@properties
@given(profiles(), subjects)
def test_each_signal_is_what_its_rule_says(profile: IcpProfile, subject: Subject) -> None:
    """The criterion signals are the rules' matches in the rules' order, each with its weight's
    share of the fit; the exclusion signals are the exclusion rules' findings, each a penalty."""
    result = IcpScorer(profile, 1).score(subject, NOW)
    matches = [
        (name, detail)
        for name, make in CRITERION_RULES.items()
        if (judge := make(profile)) is not None and isinstance(detail := judge(subject), str)
    ]
    exclusions = [
        (name, -profile.exclusions.penalty, detail)
        for name, make in EXCLUSION_RULES.items()
        if (exclude := make(profile)) is not None and (detail := exclude(subject)) is not None
    ]
    signals = [tuple(signal) for signal in result.signals]
    assert [(name, detail) for name, _, detail in signals[: len(matches)]] == matches
    assert signals[len(signals) - len(exclusions) :] == exclusions
    total = profile.total_weight
    for name, points, _ in signals[: len(matches)]:
        weight = getattr(profile, next(field for field, signal in CRITERIA.items() if signal == name)).weight
        assert abs(points - 100 * weight / total) < 1
