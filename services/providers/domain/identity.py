"""Is a provider's match the lead's person? A confident wrong person is worse than none."""

from __future__ import annotations

from rapidfuzz import fuzz

from libs.normalize import company_similarity, person_name_key
from services.providers.domain.models import Lead, ProviderMatch, Record

__all__ = ["agreement"]

# Below this name similarity a match is somebody else.
NAME_SIMILARITY = 0.85


def _name_key(person: Record | dict[str, object]) -> str:
    get = person.value if isinstance(person, Record) else person.get
    first, last = get("first_name"), get("last_name")
    return person_name_key(str(first), str(last)) if first and last else ""


def agreement(lead: Lead, person: Record, company: Record, match: ProviderMatch) -> float:
    """0.0-1.0: how well ``match`` agrees with what the lead says and what earlier providers
    found. A different email or LinkedIn profile, or another name, is 0; another employer
    halves it (people change jobs); a close but inexact name scales it."""
    factor = 1.0
    for field_name, given in (("email", lead.email), ("linkedin_url", lead.linkedin_url)):
        known = given or person.value(field_name)
        found = match.person.get(field_name)
        if known and found and known != found:
            return 0.0
    known_name = lead.name_key or _name_key(person)
    found_name = _name_key(match.person)
    if known_name and found_name and known_name != found_name:
        similarity = fuzz.ratio(known_name, found_name) / 100.0
        if similarity < NAME_SIMILARITY:
            return 0.0
        factor *= similarity
    known_domain = lead.company_domain or company.value("domain")
    found_domain = match.company.get("domain")
    if known_domain and found_domain:
        if known_domain != found_domain:
            factor *= 0.5
    else:
        known_company = lead.company_name or company.value("name")
        found_company = match.company.get("name")
        if (
            known_company
            and found_company
            and company_similarity(str(known_company), str(found_company)) < 0.8
        ):
            factor *= 0.5
    return factor
