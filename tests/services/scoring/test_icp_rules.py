"""The scoring rules, table by table: what matches, what it is worth, and what it says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.scoring.domain import (
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
    validate_profile,
)

NOW = 1_800_000_000.0
DAY = 86_400.0

# The example profile of the issue (weights add up to 100, so points are the weights).
EXAMPLE = validate_profile(
    IcpProfile(
        seniorities=Criterion((Seniority.VP, Seniority.DIRECTOR), 30),
        departments=Criterion((Department.SALES, Department.REVENUE_OPERATIONS), 20),
        title_keywords=Criterion(("revops", "sales operations"), 10),
        company_sizes=Criterion((CompanySize.S_51_200, CompanySize.S_201_500), 15),
        industries=Criterion(("SaaS",), 15),
        revenues=Criterion((RevenueRange.R_10M_25M, RevenueRange.R_25M_50M), 5),
        countries=Criterion(("US", "GB"), 5),
        technologies=Criterion(("salesforce",), 0),
        competitors=("outreach", "salesloft"),
        exclusions=Exclusions(industries=("Education",), title_keywords=("intern", "student")),
        tiers=Tiers(high_priority=80, nurture=50),
        intent_boost_max=15,
    )
)

IDEAL = Subject(
    seniority=Seniority.DIRECTOR,
    department=Department.REVENUE_OPERATIONS,
    title="Director of RevOps",
    company_name="TechFlow",
    company_domain="techflow.io",
    company_size=CompanySize.S_51_200,
    industry="SaaS",
    revenue=RevenueRange.R_10M_25M,
    person_country="US",
    technologies=("Salesforce", "HubSpot"),
)
IDEAL_SIGNALS = [
    ("target_seniority", 30, "director"),
    ("target_department", 20, "revenue_operations"),
    ("title_keyword_match", 10, "revops"),
    ("company_size_fit", 15, "51-200"),
    ("industry_match", 15, "SaaS"),
    ("revenue_fit", 5, "$10M-$25M"),
    ("geo_match", 5, "US"),
    ("tech_stack_match", 0, "Salesforce"),
]


def score(subject: Subject, profile: IcpProfile = EXAMPLE) -> tuple[int, IcpTier, list[tuple[str, int, str]]]:
    result = IcpScorer(profile, 7).score(subject, NOW)
    assert result.profile_version == 7
    return result.score, result.tier, [tuple(signal) for signal in result.signals]


@pytest.mark.parametrize(
    ("subject", "expected_score", "expected_tier", "expected_signals"),
    [
        pytest.param(IDEAL, 100, IcpTier.HIGH_PRIORITY, IDEAL_SIGNALS, id="everything-matches"),
        pytest.param(
            Subject(seniority=Seniority.VP, department=Department.SALES),
            50,
            IcpTier.NURTURE,
            [("target_seniority", 30, "vp"), ("target_department", 20, "sales")],
            id="seniority-and-department",
        ),
        pytest.param(
            IDEAL._replace(seniority=Seniority.ENTRY, department=Department.ENGINEERING),
            50,
            IcpTier.NURTURE,
            IDEAL_SIGNALS[2:],
            id="wrong-person-right-company",
        ),
        pytest.param(Subject(), 0, IcpTier.DEPRIORITIZE, [], id="nothing-known"),
        pytest.param(
            Subject(employee_count=120),
            15,
            IcpTier.DEPRIORITIZE,
            [("company_size_fit", 15, "51-200")],
            id="size-from-headcount",
        ),
        pytest.param(
            Subject(company_size=CompanySize.S_1001_5000, employee_count=120),
            0,
            IcpTier.DEPRIORITIZE,
            [],
            id="stated-size-wins-over-headcount",
        ),
        pytest.param(
            Subject(title="Head of Sales-Operations EMEA"),
            10,
            IcpTier.DEPRIORITIZE,
            [("title_keyword_match", 10, "sales-operations")],
            id="keyword-across-punctuation",
        ),
        pytest.param(
            Subject(title="Revopsy Consultant"), 0, IcpTier.DEPRIORITIZE, [], id="keyword-whole-words"
        ),
        pytest.param(
            Subject(industry="  saas "),
            15,
            IcpTier.DEPRIORITIZE,
            [("industry_match", 15, "SaaS")],
            id="industry-any-case",
        ),
        pytest.param(
            Subject(person_country="", company_country="gb"),
            5,
            IcpTier.DEPRIORITIZE,
            [("geo_match", 5, "GB")],
            id="company-country-when-person-unknown",
        ),
        pytest.param(
            Subject(person_country="DE", company_country="US"),
            5,
            IcpTier.DEPRIORITIZE,
            [("geo_match", 5, "US")],
            id="either-country",
        ),
        pytest.param(
            Subject(technologies=("salesforce",)),
            0,
            IcpTier.DEPRIORITIZE,
            [("tech_stack_match", 0, "salesforce")],
            id="zero-weight-match-is-reported-with-no-points",
        ),
        pytest.param(
            IDEAL._replace(title="Director of International Sales"),
            90,
            IcpTier.HIGH_PRIORITY,
            [signal for signal in IDEAL_SIGNALS if signal[0] != "title_keyword_match"],
            id="intern-is-not-international",
        ),
        pytest.param(
            IDEAL._replace(title="RevOps Intern"),
            0,
            IcpTier.DEPRIORITIZE,
            [*IDEAL_SIGNALS, ("excluded_title", -100, "intern")],
            id="excluded-title",
        ),
        pytest.param(
            Subject(title="Students Union President"),
            0,
            IcpTier.DEPRIORITIZE,
            [("excluded_title", -100, "students")],
            id="excluded-title-plural",
        ),
        pytest.param(
            IDEAL._replace(industry="education"),
            0,
            IcpTier.DEPRIORITIZE,
            [s for s in IDEAL_SIGNALS if s[0] != "industry_match"]
            + [("excluded_industry", -100, "Education")],
            id="excluded-industry",
        ),
        pytest.param(
            IDEAL._replace(company_name="Outreach", company_domain="outreach.io"),
            0,
            IcpTier.DEPRIORITIZE,
            [*IDEAL_SIGNALS, ("excluded_competitor", -100, "outreach")],
            id="competitor-by-name",
        ),
        pytest.param(
            IDEAL._replace(company_name="", company_domain="eu.salesloft.com"),
            0,
            IcpTier.DEPRIORITIZE,
            [*IDEAL_SIGNALS, ("excluded_competitor", -100, "salesloft")],
            id="competitor-by-subdomain",
        ),
    ],
)
def test_scoring_rules(
    subject: Subject,
    expected_score: int,
    expected_tier: IcpTier,
    expected_signals: list[tuple[str, int, str]],
) -> None:
    assert score(subject) == (expected_score, expected_tier, expected_signals)


@pytest.mark.parametrize(
    ("subject", "confidence"),
    [
        pytest.param(IDEAL, 1.0, id="all-data"),
        pytest.param(Subject(), 0.0, id="no-data"),
        pytest.param(Subject(seniority=Seniority.ENTRY, department=Department.HR), 0.5, id="person-only"),
        pytest.param(IDEAL._replace(industry="", revenue=None), 0.8, id="no-industry-or-revenue"),
    ],
)
def test_missing_data_lowers_confidence(subject: Subject, confidence: float) -> None:
    assert IcpScorer(EXAMPLE, 1).score(subject, NOW).confidence == confidence


def test_missing_data_is_not_a_mismatch_but_is_not_a_match_either() -> None:
    unknown = IcpScorer(EXAMPLE, 1).score(IDEAL._replace(industry=""), NOW)
    mismatch = IcpScorer(EXAMPLE, 1).score(IDEAL._replace(industry="Manufacturing"), NOW)
    assert unknown.score == mismatch.score == 85
    assert unknown.confidence == 0.85 and mismatch.confidence == 1.0
    assert not any(signal.points < 0 for signal in unknown.signals)


@pytest.mark.parametrize(
    ("matched", "expected_score", "expected_points"),
    [
        pytest.param({"seniorities"}, 33, [33], id="one-of-three"),
        pytest.param({"seniorities", "departments"}, 67, [34, 33], id="two-of-three"),
        pytest.param({"seniorities", "departments", "industries"}, 100, [34, 33, 33], id="all-three"),
    ],
)
def test_weights_are_normalised_so_a_full_match_is_100(
    matched: set[str], expected_score: int, expected_points: list[int]
) -> None:
    profile = validate_profile(
        IcpProfile(
            seniorities=Criterion((Seniority.VP,), 50),
            departments=Criterion((Department.SALES,), 50),
            industries=Criterion(("SaaS",), 50),
        )
    )
    subject = Subject(
        seniority=Seniority.VP if "seniorities" in matched else Seniority.ENTRY,
        department=Department.SALES if "departments" in matched else Department.HR,
        industry="SaaS" if "industries" in matched else "Retail",
    )
    result = IcpScorer(profile, 1).score(subject, NOW)
    assert result.score == expected_score
    assert [signal.points for signal in result.signals] == expected_points


@pytest.mark.parametrize(
    ("penalty", "expected"), [(100, 0), (30, 70), (0, 100)], ids=["disqualifies", "partial", "reported-only"]
)
def test_the_exclusion_penalty_is_configurable(penalty: int, expected: int) -> None:
    profile = replace(EXAMPLE, exclusions=replace(EXAMPLE.exclusions, penalty=penalty))
    result = IcpScorer(profile, 1).score(IDEAL._replace(title="RevOps Intern"), NOW)
    assert result.score == expected
    assert result.signals[-1] == ("excluded_title", -penalty, "intern")


def test_each_matched_exclusion_counts() -> None:
    profile = replace(
        EXAMPLE,
        exclusions=Exclusions(
            industries=("Education",),
            title_keywords=("student",),
            seniorities=(Seniority.ENTRY,),
            company_domains=("school.edu",),
            countries=("FR",),
            penalty=10,
        ),
    )
    subject = IDEAL._replace(
        seniority=Seniority.ENTRY,
        title="Student Researcher",
        industry="Education",
        company_domain="cs.school.edu",
        person_country="FR",
    )
    result = IcpScorer(profile, 1).score(subject, NOW)
    negative = [(signal.name, signal.points, signal.detail) for signal in result.signals if signal.points < 0]
    assert negative == [
        ("excluded_seniority", -10, "entry"),
        ("excluded_title", -10, "student"),
        ("excluded_industry", -10, "Education"),
        ("excluded_country", -10, "FR"),
        ("excluded_company", -10, "school.edu"),
    ]
    # Fit: department, size, revenue, technologies (0) = 40 points; minus 5 x 10.
    assert result.score == 0


@pytest.mark.parametrize(
    ("tiers", "points", "tier"),
    [
        (Tiers(80, 50), 80, IcpTier.HIGH_PRIORITY),
        (Tiers(80, 50), 79, IcpTier.NURTURE),
        (Tiers(80, 50), 50, IcpTier.NURTURE),
        (Tiers(80, 50), 49, IcpTier.DEPRIORITIZE),
        (Tiers(90, 70), 85, IcpTier.NURTURE),
        (Tiers(90, 70), 65, IcpTier.DEPRIORITIZE),
        (Tiers(60, 0), 0, IcpTier.NURTURE),
    ],
)
def test_tiers_come_from_the_profile(tiers: Tiers, points: int, tier: IcpTier) -> None:
    # Two criteria worth `points` and the rest, the subject matching the first only.
    profile = validate_profile(
        IcpProfile(
            seniorities=Criterion((Seniority.VP,), points),
            departments=Criterion((Department.SALES,), 100 - points),
            tiers=tiers,
        )
    )
    result = IcpScorer(profile, 1).score(Subject(seniority=Seniority.VP, department=Department.HR), NOW)
    assert (result.score, result.tier) == (points, tier)


def hiring(days_ago: float | None, base: int = 100, name: str = "hiring_sales_ops") -> IntentObservation:
    return IntentObservation(
        name=name,
        category=IntentCategory.HIRING,
        strength=base,
        base_strength=base,
        observed_at=None if days_ago is None else NOW - days_ago * DAY,
    )


PARTIAL = Subject(seniority=Seniority.VP, department=Department.SALES)  # 50 points of fit


@pytest.mark.parametrize(
    ("intents", "boost", "detail"),
    [
        pytest.param((hiring(0),), 15, "hiring_sales_ops", id="fresh-full-strength-is-the-maximum"),
        pytest.param((hiring(30),), 8, "hiring_sales_ops", id="one-half-life-halves-it"),
        pytest.param((hiring(60),), 4, "hiring_sales_ops", id="two-half-lives"),
        pytest.param((hiring(365),), 0, None, id="a-year-old-hiring-signal-is-worth-nothing"),
        pytest.param((hiring(-5),), 15, "hiring_sales_ops", id="future-observation-is-not-stronger"),
        pytest.param(
            (hiring(None, base=40),), 6, "hiring_sales_ops", id="no-observation-time-keeps-its-strength"
        ),
        pytest.param(
            (hiring(30), hiring(30, name="hiring_revops")),
            11,
            "hiring_sales_ops, hiring_revops",
            id="signals-combine-like-chances",
        ),
        pytest.param(
            tuple(hiring(0, name=f"s{n}") for n in range(10)), 15, "s0, s1, s2", id="bounded-by-the-maximum"
        ),
        pytest.param(
            (
                IntentObservation(
                    "evaluated_competitor",
                    IntentCategory.TECHNOLOGY,
                    40,
                    40,
                    NOW,
                    "web_events",
                    ("visited outreach.io pricing",),
                ),
            ),
            9,
            "evaluated_competitor (outreach)",
            id="a-competitor-mention-counts-more",
        ),
    ],
)
def test_intent_adds_a_bounded_decayed_boost(
    intents: tuple[IntentObservation, ...], boost: int, detail: str | None
) -> None:
    result = IcpScorer(EXAMPLE, 1).score(PARTIAL._replace(intents=intents), NOW)
    boosts = [signal for signal in result.signals if signal.name == "intent_boost"]
    if detail is None:
        assert boosts == [] and result.score == 50
    else:
        assert boosts == [("intent_boost", boost, detail)]
        assert result.score == 50 + boost


def test_the_boost_never_takes_a_score_past_100_and_exclusions_still_apply() -> None:
    boosted = IcpScorer(EXAMPLE, 1).score(IDEAL._replace(intents=(hiring(0),)), NOW)
    assert boosted.score == 100
    assert boosted.signals[-1] == ("intent_boost", 15, "hiring_sales_ops")
    excluded = IcpScorer(EXAMPLE, 1).score(IDEAL._replace(title="Intern", intents=(hiring(0),)), NOW)
    assert excluded.score == 0


def test_no_boost_when_the_profile_allows_none() -> None:
    profile = replace(EXAMPLE, intent_boost_max=0)
    result = IcpScorer(profile, 1).score(PARTIAL._replace(intents=(hiring(0),)), NOW)
    assert result.score == 50 and all(signal.name != "intent_boost" for signal in result.signals)


def test_the_same_inputs_always_give_the_same_score() -> None:
    subject = IDEAL._replace(intents=(hiring(12), hiring(3, name="hiring_revops")))
    first = IcpScorer(EXAMPLE, 3).score(subject, NOW)
    again = IcpScorer(EXAMPLE, 3).score(subject, NOW)
    assert first == again
    assert IcpScorer(EXAMPLE, 3).score_all([subject, IDEAL], NOW) == [
        first,
        IcpScorer(EXAMPLE, 3).score(IDEAL, NOW),
    ]
