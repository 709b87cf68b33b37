"""libs.headers: the one table of header names CSV jobs and directory imports share."""

from __future__ import annotations

from collections import Counter

import pytest

from libs.headers import HEADER_SYNONYMS, field_of_header
from libs.leads import INPUT_FIELDS


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("E-mail Address", "email"),
        ("email_address", "email"),
        ("Work Email", "email"),
        ("First Name", "first_name"),
        ("Account Name", "company_name"),
        ("web_site", "company_domain"),
        ("Person Linkedin Url", "linkedin_url"),
        ("Job Title", "title"),
        ("HQ Phone", "company_phone"),
        ("Email Opt Out", None),
        ("", None),
    ],
)
def test_a_header_names_one_field_however_it_is_spelled(header: str, field: str | None) -> None:
    assert field_of_header(header) == field


def test_every_lead_input_has_synonyms_and_no_synonym_names_two_fields() -> None:
    assert set(INPUT_FIELDS) <= set(HEADER_SYNONYMS)
    counts = Counter(synonym for synonyms in HEADER_SYNONYMS.values() for synonym in synonyms)
    assert [synonym for synonym, count in counts.items() if count > 1] == []
