"""libs.normalize: company names (legal forms, fuzzy matching) and person names."""

from __future__ import annotations

import pytest

from libs.normalize import (
    clean_company_name,
    company_key,
    company_similarity,
    match_company,
    normalize_person_name,
    person_name_key,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme, Inc.", "acme"),
        ("ACME Corporation", "acme"),
        ("The Acme Company", "acme"),
        ("Acme LLC", "acme"),
        ("Acme Ltd.", "acme"),
        ("Acme Pty Ltd", "acme"),
        ("Müller GmbH & Co. KG", "muller"),
        ("Société Générale S.A.", "societe generale"),
        ("Nordic Tools A/S", "nordic tools"),
        ("Polski Sp. z o.o.", "polski"),
        ("Johnson & Johnson", "johnson and johnson"),
        ("Company", "company"),
        ("", ""),
    ],
)
def test_company_key_strips_legal_forms(name: str, key: str) -> None:
    assert company_key(name) == key


def test_clean_company_name_keeps_the_source_case() -> None:
    assert clean_company_name("  TechFlow,  Inc. ") == "TechFlow"
    assert clean_company_name("Siemens AG") == "Siemens"
    assert clean_company_name("Acme S.A.") == "Acme"
    assert clean_company_name("Inc.") == "Inc."


def test_fuzzy_company_matching() -> None:
    assert company_similarity("Acme Inc", "ACME Corporation") == 1.0
    assert company_similarity("Salesforce.com, inc.", "Salesforce.com") == 1.0
    assert company_similarity("International Business Machines", "Business Machines International") == 1.0
    assert company_similarity("Acme", "Apex") < 0.8
    candidates = ["Globex LLC", "Initech, Inc.", "Acme Robotics GmbH"]
    match = match_company("ACME Robotic", candidates)
    assert match is not None and match.index == 2 and match.score > 0.9
    assert match_company("Umbrella Corp", candidates) is None


@pytest.mark.parametrize(
    ("parts", "first", "last", "full"),
    [
        (("", "", "JOHN MCDONALD"), "John", "McDonald", "John McDonald"),
        (("", "", "Doe, Jane"), "Jane", "Doe", "Jane Doe"),
        (("", "", "Dr. Ludwig van Beethoven"), "Ludwig", "van Beethoven", "Ludwig van Beethoven"),
        (("", "", "Mary Ann Smith Jr."), "Mary", "Smith", "Mary Ann Smith"),
        (("", "", "Smith, John, PhD"), "John", "Smith", "John Smith"),
        (("mike", "CHEN", ""), "Mike", "Chen", "Mike Chen"),
        (("", "", "o'neil, shaquille"), "Shaquille", "O'Neil", "Shaquille O'Neil"),
        (("DeShawn", "McArthur-Lee", ""), "DeShawn", "McArthur-Lee", "DeShawn McArthur-Lee"),
        (("", "", "Cher"), "Cher", "", "Cher"),
    ],
)
def test_person_names(parts: tuple[str, str, str], first: str, last: str, full: str) -> None:
    name = normalize_person_name(*parts)
    assert (name.first_name, name.last_name, name.full_name) == (first, last, full)


def test_person_name_keys_match_across_spellings() -> None:
    key = person_name_key("Michael", "Chen")
    assert key == "michael chen"
    assert person_name_key("mike", "CHEN") == key
    assert person_name_key(full="Chen, Michael") == key
    assert person_name_key(full="José Álvarez") == "jose alvarez"
    assert person_name_key(full="Cher") == ""
    assert person_name_key("Chris", "Wu") == "chris wu", "ambiguous short forms stay as written"
