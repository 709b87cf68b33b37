"""Each rule of the ICP score, one function each, and the two tables that order them.

A **criterion rule** (``CRITERION_RULES``, one per weighted criterion of the profile, named after
its signal) tells what a lead's data says about that criterion:

* ``None``: the lead lacks the data (it earns nothing and lowers the score's confidence);
* ``False``: the data is there and does not match;
* a string: it matches; the string is the signal's ``detail`` (what matched).

A matched criterion earns its weight's share of 100 points (whole points, see ``_apportion`` in
:mod:`services.scoring.domain.scorer`): ``company_size_fit`` weighing 15 of a profile's total
weight of 100 earns 15 points; weighing 15 of a total of 50, 30 points.

An **exclusion rule** (``EXCLUSION_RULES``) returns what excludes the lead (the negative signal's
detail, ``exclusions.penalty`` points off), or ``None``.

A rule is made from the profile once (sets, regular expressions) by a function of the profile;
that function returns ``None`` when the profile does not use the rule, which is then never run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Literal, NamedTuple, TypeAlias

from services.scoring.domain.intent import IntentObservation
from services.scoring.domain.profile import CRITERIA, IcpProfile
from services.scoring.domain.vocabulary import (
    CompanySize,
    Department,
    RevenueRange,
    Seniority,
    size_of_headcount,
)

__all__ = ["CRITERION_RULES", "EXCLUSION_RULES", "Exclude", "Judge", "Subject"]

_TITLE_CACHE_LIMIT = 4_096
_TECH_DETAIL = 5


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


# A criterion rule: None (no data), False (no match) or the detail of the match.
Judge: TypeAlias = Callable[[Subject], str | Literal[False] | None]
# An exclusion rule: the detail of what excludes the lead, or None.
Exclude: TypeAlias = Callable[[Subject], str | None]


def _keyword_finder(terms: Iterable[str]) -> Callable[[str], str] | None:
    """The first of ``terms`` found in a title ("" for none), remembered per title; None without
    terms. A term matches as whole words (plural allowed), its words separated by any run of
    non-alphanumerics ("sales operations" matches "Sales-Operations")."""
    alternatives = sorted(
        {r"[^a-z0-9]+".join(map(re.escape, term.split())) for term in terms if term.strip()},
        key=len,
        reverse=True,
    )
    if not alternatives:
        return None
    search = re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")s?(?![a-z0-9])").search

    def find(title: str) -> str:
        found = search(title.lower())
        return found.group(0) if found else ""

    return lru_cache(maxsize=_TITLE_CACHE_LIMIT)(find)


def _outcomes(
    values: Iterable[str],
) -> Callable[[object, Literal[False]], str | Literal[False] | None] | None:
    """For a lead's value of a closed vocabulary (an enum), ``get(value, False)`` worked out once:
    None when it has none, the value itself (``"director"``) when it is one of ``values``, else
    False; None without values."""
    table: dict[object, str | None] = {value: str(value) for value in values}
    if not table:
        return None
    table[None] = None
    return table.get


def _by_casefold(values: Iterable[str]) -> dict[str, str] | None:
    """The profile's spelling of each value by its case-folded form; None without values."""
    table = {value.casefold(): value for value in values}
    return table or None


# The weighted criteria


def target_seniority(profile: IcpProfile) -> Judge | None:
    """The lead's seniority is one of the profile's."""
    outcome = _outcomes(profile.seniorities.values)
    if outcome is None:
        return None

    def judge(subject: Subject) -> str | Literal[False] | None:
        return outcome(subject.seniority, False)

    return judge


def target_department(profile: IcpProfile) -> Judge | None:
    """The lead's department is one of the profile's."""
    outcome = _outcomes(profile.departments.values)
    if outcome is None:
        return None

    def judge(subject: Subject) -> str | Literal[False] | None:
        return outcome(subject.department, False)

    return judge


def title_keyword_match(profile: IcpProfile) -> Judge | None:
    """The lead's title has one of the profile's keywords (the detail: the words that matched)."""
    find = _keyword_finder(profile.title_keywords.values)
    if find is None:
        return None

    def judge(subject: Subject) -> str | Literal[False] | None:
        title = subject.title
        if not title:
            return None
        return find(title) or False

    return judge


def company_size_fit(profile: IcpProfile) -> Judge | None:
    """The company's size range, or else the range of its headcount, is one of the profile's."""
    outcome = _outcomes(profile.company_sizes.values)
    if outcome is None:
        return None

    def judge(subject: Subject) -> str | Literal[False] | None:
        return outcome(subject.company_size or size_of_headcount(subject.employee_count), False)

    return judge


def industry_match(profile: IcpProfile) -> Judge | None:
    """The company's industry is one of the profile's, whatever the case (the detail: the
    profile's spelling)."""
    targets = _by_casefold(profile.industries.values)
    if targets is None:
        return None

    def judge(subject: Subject) -> str | Literal[False] | None:
        industry = subject.industry
        if not industry:
            return None
        return targets.get(industry.strip().casefold(), False)

    return judge


def revenue_fit(profile: IcpProfile) -> Judge | None:
    """The company's revenue range is one of the profile's."""
    outcome = _outcomes(profile.revenues.values)
    if outcome is None:
        return None

    def judge(subject: Subject) -> str | Literal[False] | None:
        return outcome(subject.revenue, False)

    return judge


def geo_match(profile: IcpProfile) -> Judge | None:
    """The person's country, or else the company's, is one of the profile's."""
    targets = frozenset(profile.countries.values)
    if not targets:
        return None

    def judge(subject: Subject) -> str | Literal[False] | None:
        person, company = subject.person_country, subject.company_country
        if not (person or company):
            return None
        person, company = person.upper(), company.upper()
        where = person if person in targets else company
        return where if where in targets else False

    return judge


def tech_stack_match(profile: IcpProfile) -> Judge | None:
    """The company uses one of the profile's technologies (the detail: the first five it uses)."""
    targets = frozenset(profile.technologies.values)
    if not targets:
        return None

    def judge(subject: Subject) -> str | Literal[False] | None:
        technologies = subject.technologies
        if not technologies:
            return None
        used = [tech for tech in technologies if tech.lower() in targets]
        return ", ".join(used[:_TECH_DETAIL]) if used else False

    return judge


# The exclusions


def excluded_seniority(profile: IcpProfile) -> Exclude | None:
    """The lead's seniority is one the profile excludes."""
    excluded: dict[object, str] = {seniority: str(seniority) for seniority in profile.exclusions.seniorities}
    if not excluded:
        return None
    outcome = excluded.get

    def exclude(subject: Subject) -> str | None:
        return outcome(subject.seniority)

    return exclude


def excluded_title(profile: IcpProfile) -> Exclude | None:
    """The lead's title has a keyword the profile excludes ("intern")."""
    find = _keyword_finder(profile.exclusions.title_keywords)
    if find is None:
        return None

    def exclude(subject: Subject) -> str | None:
        title = subject.title
        return (find(title) or None) if title else None

    return exclude


def excluded_industry(profile: IcpProfile) -> Exclude | None:
    """The company's industry is one the profile excludes, whatever the case."""
    excluded = _by_casefold(profile.exclusions.industries)
    if excluded is None:
        return None

    def exclude(subject: Subject) -> str | None:
        industry = subject.industry
        if not industry:
            return None
        return excluded.get(industry.strip().casefold())

    return exclude


def excluded_country(profile: IcpProfile) -> Exclude | None:
    """The person's country, or else the company's, is one the profile excludes."""
    excluded = frozenset(profile.exclusions.countries)
    if not excluded:
        return None

    def exclude(subject: Subject) -> str | None:
        person, company = subject.person_country, subject.company_country
        if not (person or company):
            return None
        person, company = person.upper(), company.upper()
        where = person if person in excluded else company
        return where if where in excluded else None

    return exclude


def excluded_company(profile: IcpProfile) -> Exclude | None:
    """The company's domain, or a parent domain of it, is one the profile excludes."""
    excluded = frozenset(profile.exclusions.company_domains)
    if not excluded:
        return None

    def exclude(subject: Subject) -> str | None:
        domain = subject.company_domain.lower()
        while domain:
            if domain in excluded:
                return domain
            domain = domain.partition(".")[2]
        return None

    return exclude


def excluded_competitor(profile: IcpProfile) -> Exclude | None:
    """The company is one of the profile's competitors, by name, by domain or by a label of its
    domain (app.outreach.io: "app.outreach.io", "app", "outreach.io", "outreach")."""
    competitors = frozenset(profile.competitors)
    if not competitors:
        return None

    def exclude(subject: Subject) -> str | None:
        if not (subject.company_name or subject.company_domain):
            return None
        name = subject.company_name.strip().casefold()
        if name in competitors:
            return name or None
        domain = subject.company_domain.lower()
        while "." in domain:
            label, _, parent = domain.partition(".")
            if domain in competitors:
                return domain
            if label in competitors:
                return label or None
            domain = parent
        return None

    return exclude


# The weighted criteria by signal name, in the order of CRITERIA (their signals' order).
CRITERION_RULES: dict[str, Callable[[IcpProfile], Judge | None]] = {
    "target_seniority": target_seniority,
    "target_department": target_department,
    "title_keyword_match": title_keyword_match,
    "company_size_fit": company_size_fit,
    "industry_match": industry_match,
    "revenue_fit": revenue_fit,
    "geo_match": geo_match,
    "tech_stack_match": tech_stack_match,
}
assert list(CRITERION_RULES) == list(CRITERIA.values())

# The exclusions by signal name, in the order their negative signals are reported.
EXCLUSION_RULES: dict[str, Callable[[IcpProfile], Exclude | None]] = {
    "excluded_seniority": excluded_seniority,
    "excluded_title": excluded_title,
    "excluded_industry": excluded_industry,
    "excluded_country": excluded_country,
    "excluded_company": excluded_company,
    "excluded_competitor": excluded_competitor,
}
