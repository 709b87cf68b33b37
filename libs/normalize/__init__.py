"""Lead normalisation: pure, typed, table-driven functions shared by the providers, intent and
scoring services.

Every function takes what a source wrote and returns one standard form, or None when the input
is not what it should be. Vocabularies (free email providers, legal forms, title words,
industries) are data files in ``libs/normalize/data``; nothing here touches the network.

    >>> normalize_title("Sr. Dir. RevOps").title
    'Senior Director of Revenue Operations'
    >>> normalize_domain("https://www.Acme.co.uk/about")
    'acme.co.uk'
"""

from __future__ import annotations

from libs.normalize.companies import (
    CompanyMatch,
    clean_company_name,
    company_key,
    company_similarity,
    match_company,
)
from libs.normalize.domains import (
    as_company_domain,
    company_domain_from_email,
    email_domain,
    host_name,
    is_free_email_domain,
    normalize_domain,
    normalize_email,
)
from libs.normalize.firmographics import (
    EMPLOYEE_RANGES,
    REVENUE_RANGES,
    employee_range,
    parse_employee_count,
    parse_revenue,
    revenue_range,
)
from libs.normalize.industries import INDUSTRIES, normalize_industry
from libs.normalize.linkedin import linkedin_slug, normalize_linkedin_url
from libs.normalize.names import PersonName, normalize_person_name, person_name_key
from libs.normalize.phones import normalize_phone
from libs.normalize.taxonomy import Department, Seniority
from libs.normalize.titles import JobTitle, normalize_title

__all__ = [
    "EMPLOYEE_RANGES",
    "INDUSTRIES",
    "REVENUE_RANGES",
    "CompanyMatch",
    "Department",
    "JobTitle",
    "PersonName",
    "Seniority",
    "as_company_domain",
    "clean_company_name",
    "company_domain_from_email",
    "company_key",
    "company_similarity",
    "email_domain",
    "employee_range",
    "host_name",
    "is_free_email_domain",
    "linkedin_slug",
    "match_company",
    "normalize_domain",
    "normalize_email",
    "normalize_industry",
    "normalize_linkedin_url",
    "normalize_person_name",
    "normalize_phone",
    "normalize_title",
    "parse_employee_count",
    "parse_revenue",
    "person_name_key",
    "revenue_range",
]
