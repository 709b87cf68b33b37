"""libs.normalize: phones (E.164), LinkedIn URLs, employee and revenue ranges, industries."""

from __future__ import annotations

import pytest

from libs.normalize import (
    EMPLOYEE_RANGES,
    INDUSTRIES,
    REVENUE_RANGES,
    employee_range,
    linkedin_slug,
    normalize_industry,
    normalize_linkedin_url,
    normalize_phone,
    parse_employee_count,
    parse_revenue,
    revenue_range,
)


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+1-650-555-0173", "US", "+16505550173"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671 ext. 12", "US", "+14155552671"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("030 901820", "DE", "+4930901820"),
        ("12", "US", None),
        ("555-0173", "US", None),
        ("not a phone", "US", None),
    ],
)
def test_phones_in_e164(raw: str, region: str, e164: str | None) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("linkedin.com/in/Jane-Doe-123/", "https://www.linkedin.com/in/jane-doe-123"),
        ("https://uk.linkedin.com/in/jane-doe-123?trk=public", "https://www.linkedin.com/in/jane-doe-123"),
        (
            "http://www.linkedin.com/in/jane-doe-123/details/experience/",
            "https://www.linkedin.com/in/jane-doe-123",
        ),
        ("https://m.linkedin.com/in/j%C3%B6rg-m", "https://www.linkedin.com/in/jörg-m"),
        ("https://www.linkedin.com/company/TechFlow/about", "https://www.linkedin.com/company/techflow"),
        ("/in/alexrivera", "https://www.linkedin.com/in/alexrivera"),
        ("https://twitter.com/jane", None),
        ("https://www.linkedin.com/feed/", None),
        ("", None),
    ],
)
def test_linkedin_urls(raw: str, url: str | None) -> None:
    assert normalize_linkedin_url(raw) == url


def test_linkedin_slug() -> None:
    assert linkedin_slug("linkedin.com/in/AlexRivera") == "alexrivera"
    assert linkedin_slug("nope") is None


def test_employee_ranges_cover_every_count_once() -> None:
    labels = [label for label, _, _ in EMPLOYEE_RANGES]
    assert labels == ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "5001-10000", "10001+"]
    for label, lowest, highest in EMPLOYEE_RANGES:
        assert employee_range(lowest) == label
        if highest is not None:
            assert employee_range(highest) == label
            assert employee_range(highest + 1) != label
    assert employee_range(0) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250", ("201-500", 250)),
        ("51-200", ("51-200", None)),
        ("51 to 200 employees", ("51-200", None)),
        ("1,001-5,000", ("1001-5000", None)),
        ("1000-5000", ("1001-5000", None)),
        ("10k+", ("10001+", None)),
        ("10,001+", ("10001+", None)),
        ("more than 50", ("51-200", None)),
        ("unknown", (None, None)),
    ],
)
def test_parse_employee_count(text: str, expected: tuple[str | None, int | None]) -> None:
    assert parse_employee_count(text) == expected


def test_revenue_ranges_have_half_open_bounds() -> None:
    labels = [label for label, _, _ in REVENUE_RANGES]
    assert labels[0] == "$0-$1M" and labels[-1] == "$1B+" and len(labels) == 9
    assert revenue_range(999_999) == "$0-$1M"
    assert revenue_range(1_000_000) == "$1M-$10M"
    assert revenue_range(25_000_000) == "$25M-$50M"
    assert revenue_range(5e9) == "$1B+"
    assert revenue_range(-1) is None


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("$12.5M", "$10M-$25M"),
        ("12,500,000", "$10M-$25M"),
        ("$10M-$25M", "$10M-$25M"),
        ("10-25M", "$10M-$25M"),
        ("1.2 billion", "$1B+"),
        ("USD 3.4bn", "$1B+"),
        ("$500K", "$0-$1M"),
        ("45", "$25M-$50M"),
        ("$500M-$1B", "$500M-$1B"),
        ("n/a", None),
    ],
)
def test_parse_revenue(text: str, label: str | None) -> None:
    assert parse_revenue(text) == label


@pytest.mark.parametrize(
    ("label", "industry"),
    [
        ("SaaS", "SaaS"),
        ("Software as a Service", "SaaS"),
        ("Computer Software", "Software"),
        ("Information Technology & Services", "IT Services"),
        ("Hospital & Health Care", "Healthcare"),
        ("biotech", "Biotechnology"),
        ("Financial Service", "Financial Services"),
        ("Oil & Energy", "Energy"),
        ("Marketing and Advertising", "Marketing & Advertising"),
        ("Underwater Basket Weaving", None),
        ("", None),
    ],
)
def test_industries_map_onto_the_taxonomy(label: str, industry: str | None) -> None:
    assert normalize_industry(label) == industry


def test_every_taxonomy_name_maps_to_itself() -> None:
    assert len(INDUSTRIES) >= 30
    assert all(normalize_industry(name) == name for name in INDUSTRIES)
