"""Intent's domain without a network: decay, first-party events, technologies, hiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.errors import InvalidArgument
from services.intent.domain import (
    Category,
    CompanyState,
    EngagementTotal,
    EventRecord,
    FetchStatus,
    HalfLives,
    JobPosting,
    Signal,
    Source,
    SourceState,
    TechnologyCatalog,
    WebEventInput,
    count_boost,
    current_signals,
    default_catalog,
    due_sources,
    engagement_signals,
    extract_page,
    hiring_signals,
    merge_sightings,
    refresh_period,
    retry_delay,
    technology_signals,
    total_events,
    validate_events,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def signal(category: Category, base: int, days_ago: float, name: str = "s") -> Signal:
    return Signal(name, category, base, NOW - timedelta(days=days_ago), "test")


# decay


@pytest.mark.parametrize(
    ("category", "days_ago", "strength"),
    [
        (Category.HIRING, 0, 80),
        (Category.HIRING, 30, 40),
        (Category.HIRING, 60, 20),
        (Category.TECHNOLOGY, 90, 40),
        (Category.ENGAGEMENT, 14, 40),
        (Category.ENGAGEMENT, 28, 20),
        (Category.ENGAGEMENT, -3, 80),  # a clock ahead of ours does not make a signal stronger
    ],
)
def test_a_signal_halves_every_half_life_of_its_category(
    category: Category, days_ago: float, strength: int
) -> None:
    assert HalfLives().strength(signal(category, 80, days_ago), NOW) == strength


def test_half_lives_are_configurable_per_category() -> None:
    quick = HalfLives(hiring=7.0)
    assert quick.strength(signal(Category.HIRING, 80, 7), NOW) == 40
    assert quick.strength(signal(Category.TECHNOLOGY, 80, 7), NOW) == 76


def test_current_signals_are_strongest_first_filtered_and_without_faded_ones() -> None:
    signals = [
        signal(Category.HIRING, 60, 0, "hiring_sales"),
        signal(Category.ENGAGEMENT, 90, 1, "demo_request"),
        signal(Category.ENGAGEMENT, 60, 400, "pricing_page_view"),  # faded to nothing
        signal(Category.TECHNOLOGY, 70, 0, "adopted_hubspot"),
    ]
    current = current_signals(signals, NOW, HalfLives(), frozenset())
    assert [(c.signal.name, c.strength) for c in current] == [
        ("demo_request", 86),
        ("adopted_hubspot", 70),
        ("hiring_sales", 60),
    ]
    only = current_signals(signals, NOW, HalfLives(), frozenset({Category.HIRING}))
    assert [c.signal.name for c in only] == ["hiring_sales"]


def test_more_occurrences_make_a_stronger_signal_up_to_100() -> None:
    assert [count_boost(60, n) for n in (1, 2, 4, 8, 1000)] == [60, 70, 80, 90, 100]


def test_refresh_periods_are_iso_weeks_that_sort_in_time_order() -> None:
    assert refresh_period(NOW) == "2026-W48"
    assert refresh_period(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert refresh_period(datetime(2027, 1, 4, tzinfo=UTC)) == "2027-W01"
    weeks = [refresh_period(NOW + timedelta(weeks=n)) for n in range(60)]
    assert weeks == sorted(weeks)


# first-party events


def test_each_bad_event_is_rejected_with_its_index_and_reason() -> None:
    events = [
        WebEventInput(
            domain="https://www.Acme.com/pricing",
            type="pricing_page_view",
            occurred_time_text="2026-11-20T10:00:00Z",
            url="https://acme.com/pricing",
        ),
        WebEventInput(domain="acme.com", type="page_scrolled"),
        WebEventInput(domain="acme.com", type="demo_request", occurred_time_text="yesterday"),
        WebEventInput(domain="acme.com", type="demo_request", occurred_time=NOW + timedelta(days=1)),
        WebEventInput(type="docs_view"),
        WebEventInput(email="jane@mail.globex.co.uk", type="docs_view"),
        WebEventInput(email="jane@gmail.com", type="docs_view"),
        WebEventInput(email="not an email", type="docs_view"),
        WebEventInput(domain="localhost", type="docs_view"),
        WebEventInput(domain="acme.com", type="Demo_Request", occurred_time=NOW + timedelta(minutes=2)),
    ]
    accepted, rejected = validate_events(events, NOW, 1000)
    assert [(r.index, r.reason) for r in rejected] == [
        (1, "unknown_type"),
        (2, "unparseable_time"),
        (3, "future_time"),
        (4, "missing_domain"),
        (6, "personal_email"),
        (7, "invalid_email"),
        (8, "invalid_domain"),
    ]
    assert all(r.message for r in rejected)
    assert [(a.index, a.domain, a.type) for a in accepted] == [
        (0, "acme.com", "pricing_page_view"),
        (5, "globex.co.uk", "docs_view"),
        (9, "acme.com", "demo_request"),  # two minutes ahead is clock skew, not the future
    ]
    assert accepted[0].occurred_time == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert accepted[1].occurred_time == NOW  # no time: when it was received
    assert accepted[1].visitor and "jane" not in accepted[1].visitor


def test_an_empty_or_oversized_call_is_refused_whole() -> None:
    with pytest.raises(InvalidArgument) as empty:
        validate_events([], NOW, 1000)
    assert empty.value.reason == "NO_EVENTS"
    event = WebEventInput(domain="acme.com", type="docs_view")
    assert len(validate_events([event] * 1000, NOW, 1000)[0]) == 1000
    with pytest.raises(InvalidArgument) as too_many:
        validate_events([event] * 1001, NOW, 1000)
    assert too_many.value.reason == "TOO_MANY_EVENTS"


def test_event_totals_become_signals_with_count_last_seen_and_latest_page() -> None:
    last = NOW - timedelta(days=2)
    signals = engagement_signals(
        [
            EngagementTotal("acme.com", "pricing_page_view", 4, last, "https://acme.com/pricing", 2),
            EngagementTotal("acme.com", "demo_request", 1, NOW, "", 0),
        ]
    )
    pricing, demo = signals
    assert (pricing.name, pricing.category, pricing.count, pricing.observed_time) == (
        "pricing_page_view",
        Category.ENGAGEMENT,
        4,
        last,
    )
    assert pricing.base_strength == 80  # 60, +10 per doubling of the count
    assert pricing.evidence == ("https://acme.com/pricing", "2 identified visitors")
    assert (demo.base_strength, demo.evidence, demo.source) == (90, (), "web_events")


# technologies

PAGE = """<!doctype html><html><head>
<meta name="generator" content="WordPress 6.4.2">
<script async src="https://js.hs-scripts.com/123456.js"></script>
<script src="https://www.googletagmanager.com/gtm.js?id=GTM-ABC123"></script>
<script src="/wp-content/themes/acme/app.js"></script>
</head><body><script>window.intercomSettings = {app_id: "x"};</script></body></html>"""


def test_fingerprints_find_technologies_in_scripts_meta_headers_cookies_and_source() -> None:
    page = extract_page(PAGE, {"Server": "nginx", "X-Shopify-Stage": "production"}, ["_ga", "__stripe_mid"])
    found = {d.slug: d for d in default_catalog().detect(page)}
    assert set(found) == {
        "hubspot",
        "google_tag_manager",
        "wordpress",
        "intercom",
        "shopify",
        "google_analytics",
        "stripe",
    }
    assert found["hubspot"].evidence == ("script https://js.hs-scripts.com/123456.js",)
    assert found["hubspot"].category == "crm"
    assert "meta generator WordPress 6.4.2" in found["wordpress"].evidence
    assert found["shopify"].evidence == ("header x-shopify-stage",)
    assert found["stripe"].evidence == ("cookie __stripe_mid",)
    assert found["intercom"].evidence == ("html window.intercomSettings",)


def test_a_plain_page_shows_no_technology() -> None:
    page = extract_page("<html><script src='/app.js'></script>hello</html>", {"server": "nginx"}, [])
    assert default_catalog().detect(page) == []


def test_the_fingerprint_file_is_checked_when_loaded() -> None:
    with pytest.raises(ValueError, match="unknown category"):
        TechnologyCatalog.from_toml('[[technology]]\nslug = "x"\nname = "X"\ncategory = "toaster"\n')
    with pytest.raises(ValueError, match="unique"):
        TechnologyCatalog.from_toml(
            '[[technology]]\nslug = "x"\nname = "X"\ncategory = "crm"\n'
            '[[technology]]\nslug = "x"\nname = "Y"\ncategory = "cms"\n'
        )


def _sightings(first_seen: dict[str, datetime]) -> list:  # type: ignore[type-arg]
    page = extract_page(PAGE, {}, [])
    return merge_sightings(default_catalog().detect(page), first_seen, NOW)


def test_technologies_become_adopted_signals_dated_when_first_seen() -> None:
    first = NOW - timedelta(days=90)
    signals = {
        s.name: s for s in technology_signals(_sightings({"hubspot": first}), {}, first, timedelta(90), NOW)
    }
    assert set(signals) == {
        "adopted_hubspot",
        "adopted_google_tag_manager",
        "adopted_wordpress",
        "adopted_intercom",
    }
    hubspot = signals["adopted_hubspot"]
    assert (hubspot.category, hubspot.observed_time, hubspot.source) == (
        Category.TECHNOLOGY,
        first,
        "homepage",
    )
    assert hubspot.evidence[0] == "HubSpot (CRM)"
    assert signals["adopted_wordpress"].observed_time == NOW


@pytest.mark.parametrize("entry", ["HubSpot", "hubspot", "hubspot.com", "https://www.hubspot.com/"])
def test_an_icp_competitor_is_matched_by_name_slug_or_domain(entry: str) -> None:
    assert default_catalog().competitor_terms([entry, "Nobody Inc"]) == {"hubspot": entry}


def test_a_competitor_seen_since_the_first_scan_is_being_evaluated() -> None:
    baseline = NOW - timedelta(days=60)
    terms = default_catalog().competitor_terms(["HubSpot", "intercom.com"])
    sightings = _sightings({"hubspot": NOW - timedelta(days=10), "intercom": baseline})
    signals = {s.name: s for s in technology_signals(sightings, terms, baseline, timedelta(days=90), NOW)}
    assert "adopted_hubspot" not in signals and "adopted_intercom" not in signals
    evaluated, uses = signals["evaluated_competitor"], signals["uses_competitor"]
    assert evaluated.observed_time == NOW - timedelta(days=10)
    assert evaluated.evidence[0] == "HubSpot (competitor: HubSpot)"
    assert (uses.observed_time, uses.count) == (NOW, 1)  # still there at the latest scan
    assert uses.evidence[0] == "Intercom (competitor: intercom.com)"
    # Long after it appeared, the competitor is simply in use.
    later = technology_signals(sightings, terms, baseline, timedelta(days=5), NOW)
    assert {s.name for s in later} >= {"uses_competitor"} and "evaluated_competitor" not in {
        s.name for s in later
    }


def test_competitors_already_there_at_the_first_scan_are_in_use() -> None:
    terms = default_catalog().competitor_terms(["hubspot"])
    signals = technology_signals(_sightings({}), terms, NOW, timedelta(days=90), NOW)
    assert "uses_competitor" in {s.name for s in signals}
    assert "evaluated_competitor" not in {s.name for s in signals}


# hiring


def test_postings_are_grouped_by_the_normalised_department_of_their_title() -> None:
    def posting(title: str, days_ago: float | None, department: str = "") -> JobPosting:
        when = None if days_ago is None else NOW - timedelta(days=days_ago)
        return JobPosting(title, when, board="greenhouse", department=department)

    signals = {
        s.name: s
        for s in hiring_signals(
            [
                posting("Sr. Sales Ops Manager", 3),
                posting("Revenue Operations Analyst", 10),
                posting("Salesforce Administrator", 1),
                posting("Account Executive, Mid-Market", 5),
                posting("Senior Software Engineer", None),
                posting("Associate", 2, department="Marketing"),
                posting("Wizard", 2),
            ],
            NOW,
        )
    }
    assert set(signals) == {"hiring_sales_ops", "hiring_sales", "hiring_engineering", "hiring_marketing"}
    ops = signals["hiring_sales_ops"]
    assert (ops.count, ops.category, ops.source) == (3, Category.HIRING, "greenhouse")
    assert ops.observed_time == NOW - timedelta(days=1)  # the newest posting
    assert ops.base_strength == 83  # 70, +8 per doubling
    assert ops.evidence[0] == "Salesforce Administrator (2026-11-24)"
    assert signals["hiring_engineering"].observed_time == NOW  # undated: when the board was read


def test_stored_events_add_up_per_company_and_type() -> None:
    records = [
        EventRecord("acme.com", "docs_view", NOW - timedelta(days=3), "https://a/docs/1", "v1"),
        EventRecord("acme.com", "docs_view", NOW - timedelta(days=1), "https://a/docs/2", "v1"),
        EventRecord("acme.com", "docs_view", NOW - timedelta(days=2), "https://a/docs/3", "v2"),
        EventRecord("acme.com", "demo_request", NOW, "", ""),
        EventRecord("globex.com", "docs_view", NOW, "https://g/docs", ""),
    ]
    totals = {(t.domain, t.type): t for t in total_events(records)}
    assert totals[("acme.com", "docs_view")] == EngagementTotal(
        "acme.com", "docs_view", 3, NOW - timedelta(days=1), "https://a/docs/2", 2
    )
    assert totals[("acme.com", "demo_request")].visitors == 0
    assert totals[("globex.com", "docs_view")].count == 1


def test_a_request_fetches_sources_never_fetched_or_failed_long_ago() -> None:
    retry = timedelta(hours=1)
    ok = SourceState(FetchStatus.OK, NOW - timedelta(days=30))
    failed_now = SourceState(FetchStatus.FAILED, NOW - timedelta(minutes=5))
    failed_before = SourceState(FetchStatus.FAILED, NOW - timedelta(hours=2))
    every = (Source.HIRING, Source.TECHNOLOGY, Source.WEB_ACTIVITY)
    assert due_sources(None, every, NOW, retry_failed_after=retry) == (Source.HIRING, Source.TECHNOLOGY)
    state = CompanyState("acme.com", hiring=ok, technology=failed_now)
    assert due_sources(state, every, NOW, retry_failed_after=retry) == ()
    state = CompanyState("acme.com", hiring=failed_before, technology=None)
    assert due_sources(state, every, NOW, retry_failed_after=retry) == (Source.HIRING, Source.TECHNOLOGY)


def test_a_source_failing_again_and_again_is_left_alone_longer_each_time() -> None:
    first, longest = timedelta(minutes=1), timedelta(hours=1)
    assert [retry_delay(n, first, longest) for n in (1, 2, 3, 4)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
    ]
    assert retry_delay(40, first, longest) == longest
    every = (Source.HIRING, Source.TECHNOLOGY)
    three_failures = SourceState(FetchStatus.FAILED, NOW - timedelta(minutes=3), "unreachable", failures=3)
    state = CompanyState("acme.com", hiring=three_failures, technology=three_failures)
    due = {"retry_failed_after": first, "retry_failed_max": longest}
    assert due_sources(state, every, NOW, **due) == ()  # 4 minutes after the third failure
    assert due_sources(state, every, NOW + timedelta(minutes=1), **due) == every
