"""Leads and provider data in their one normalised form (libs.normalize does the work)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from libs.normalize import (
    clean_company_name,
    company_domain_from_email,
    company_key,
    employee_range,
    normalize_domain,
    normalize_email,
    normalize_industry,
    normalize_linkedin_url,
    normalize_person_name,
    normalize_phone,
    normalize_title,
    parse_employee_count,
    parse_revenue,
    person_name_key,
    revenue_range,
)
from services.providers.domain.models import Fields, Lead

__all__ = ["lead_from_input", "learn", "normalize_company", "normalize_person"]


def _text(raw: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = raw.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def lead_from_input(
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    full_name: str = "",
    company_name: str = "",
    company_domain: str = "",
    linkedin_url: str = "",
) -> Lead:
    """The normalised lead; identifiers that do not parse (a malformed email) are dropped."""
    normalized_email = normalize_email(email) if email.strip() else None
    name = normalize_person_name(first_name, last_name, full_name)
    domain = normalize_domain(company_domain) if company_domain.strip() else None
    if domain is None and normalized_email:
        domain = company_domain_from_email(normalized_email)
    cleaned_company = clean_company_name(company_name)
    return Lead(
        email=normalized_email or "",
        first_name=name.first_name,
        last_name=name.last_name,
        full_name=name.full_name,
        name_key=person_name_key(name.first_name, name.last_name),
        company_name=cleaned_company,
        company_key=company_key(cleaned_company),
        company_domain=domain or "",
        linkedin_url=(normalize_linkedin_url(linkedin_url) or "") if linkedin_url.strip() else "",
    )


def learn(lead: Lead, person: Fields, company: Fields) -> Lead:
    """``lead`` with the identifiers a match taught us filled in; what it had is never replaced."""
    updates: dict[str, str] = {}
    known = {
        "email": person.get("email"),
        "linkedin_url": person.get("linkedin_url"),
        "first_name": person.get("first_name"),
        "last_name": person.get("last_name"),
        "full_name": person.get("full_name"),
        "company_domain": company.get("domain"),
        "company_name": company.get("name"),
    }
    for name, value in known.items():
        if value and not getattr(lead, name):
            updates[name] = str(value)
    if not lead.name_key and person.get("first_name") and person.get("last_name"):
        updates["name_key"] = person_name_key(str(person["first_name"]), str(person["last_name"]))
    if not lead.company_key and company.get("name"):
        updates["company_key"] = company_key(str(company["name"]))
    return replace(lead, **updates) if updates else lead


def normalize_person(raw: Mapping[str, Any], default_region: str = "US") -> Fields:
    """A provider's person fields in our form: names cased, title normalised with seniority and
    department, email lower-case, phone E.164, LinkedIn canonical. Unparseable values are dropped."""
    out: Fields = {}
    name = normalize_person_name(
        _text(raw, "first_name"), _text(raw, "last_name"), _text(raw, "full_name", "name")
    )
    for key in ("first_name", "last_name", "full_name"):
        if getattr(name, key):
            out[key] = getattr(name, key)
    email = normalize_email(_text(raw, "email")) if _text(raw, "email") else None
    if email:
        out["email"] = email
    raw_title = _text(raw, "raw_title", "title", "job_title")
    if raw_title:
        title = normalize_title(raw_title)
        out["raw_title"] = raw_title
        if title.title:
            out["title"] = title.title
        if title.seniority is not None:
            out["seniority"] = title.seniority.value
        if title.department is not None:
            out["department"] = title.department.value
    country = _text(raw, "country")
    phone = normalize_phone(_text(raw, "phone"), country if len(country) == 2 else default_region)
    if phone:
        out["phone"] = phone
    linkedin = normalize_linkedin_url(_text(raw, "linkedin_url", "linkedin"))
    if linkedin:
        out["linkedin_url"] = linkedin
    if len(country) == 2 and country.isalpha():
        out["country"] = country.upper()
    if _text(raw, "city"):
        out["city"] = _text(raw, "city")
    return out


def normalize_company(raw: Mapping[str, Any]) -> Fields:
    """A provider's company fields in our form: registered domain, cleaned name, size and
    revenue ranges, industry from the taxonomy."""
    out: Fields = {}
    name = clean_company_name(_text(raw, "name", "company_name"))
    if name:
        out["name"] = name
    domain = normalize_domain(_text(raw, "domain", "website", "company_domain"))
    if domain:
        out["domain"] = domain
    count = raw.get("employee_count")
    if isinstance(count, int | float) and not isinstance(count, bool) and count > 0:
        out["employee_count"] = int(count)
        out["size"] = employee_range(int(count))
    elif _text(raw, "employee_count", "size", "employees"):
        size, exact = parse_employee_count(_text(raw, "employee_count", "size", "employees"))
        if size:
            out["size"] = size
        if exact:
            out["employee_count"] = exact
    revenue = raw.get("revenue")
    revenue_label = None
    if isinstance(revenue, int | float) and not isinstance(revenue, bool):
        revenue_label = revenue_range(float(revenue))
    elif isinstance(revenue, str) and revenue.strip():
        revenue_label = parse_revenue(revenue)
    if revenue_label:
        out["revenue"] = revenue_label
    industry = normalize_industry(_text(raw, "industry"))
    if industry:
        out["industry"] = industry
    country = _text(raw, "country")
    if len(country) == 2 and country.isalpha():
        out["country"] = country.upper()
    technologies = raw.get("technologies")
    if isinstance(technologies, list | tuple):
        out["technologies"] = sorted({str(t).strip() for t in technologies if str(t).strip()})
    elif isinstance(technologies, str) and technologies.strip():
        out["technologies"] = sorted(
            {t.strip() for t in technologies.replace(";", ",").split(",") if t.strip()}
        )
    linkedin = normalize_linkedin_url(_text(raw, "linkedin_url", "linkedin"))
    if linkedin:
        out["linkedin_url"] = linkedin
    phone = normalize_phone(_text(raw, "phone"), country if len(country) == 2 else "US")
    if phone:
        out["phone"] = phone
    return out
