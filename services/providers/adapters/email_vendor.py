"""An email-finder vendor, shaped like the public email-finder APIs: the most likely address of
a named person at a domain, with a 0-100 score, and a domain search listing a company's
addresses (with names, positions and confidence) for company leads.

    GET {base_url}/v2/email-finder?domain=acme.com&first_name=Jane&last_name=Doe&api_key=...
    200 {"data": {"email": "jane.doe@acme.com", "score": 91, "first_name": ..., "position": ...}}
    GET {base_url}/v2/domain-search?domain=acme.com&limit=10&api_key=...
    200 {"data": {"domain": ..., "organization": ..., "pattern": "{first}.{last}",
                  "emails": [{"value": ..., "confidence": 94, "first_name": ..., "position": ...}]}}
"""

from __future__ import annotations

from typing import Any

from services.providers.adapters.http import NOT_FOUND, HttpCaller
from services.providers.adapters.remote import RemoteProvider
from services.providers.config import EmailFinderConfig
from services.providers.domain.fields import normalize_company, normalize_person
from services.providers.domain.models import FieldGroup, Fields, Lead, ProviderMatch, Wanted
from services.providers.domain.ports import Answer

__all__ = ["EmailFinderProvider"]


def _score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(0.0, min(1.0, float(value) / 100.0))


class EmailFinderProvider(RemoteProvider):
    provides = frozenset({FieldGroup.EMAIL})
    provides_contacts = True

    def __init__(self, config: EmailFinderConfig, caller: HttpCaller, secret: str | None):
        super().__init__(config.name, config.cost, config.cache_ttl, config.batch_timeout, caller)
        self.config = config
        base = config.base_url.rstrip("/")
        self.finder_url = base + "/v2/email-finder"
        self.search_url = base + "/v2/domain-search"
        self.key = {"api_key": secret} if secret else {}

    def accepts(self, lead: Lead) -> bool:
        if lead.company_only:
            return bool(lead.company_domain)
        return bool(lead.first_name and lead.last_name and lead.company_domain)

    def cache_key(self, lead: Lead) -> str:
        if lead.company_only:
            return f"domain={lead.company_domain}&limit={self.config.domain_search_limit}"
        return f"domain={lead.company_domain}&name={lead.name_key}"

    async def answer(self, lead: Lead, wanted: Wanted) -> Answer:
        if lead.company_only:
            return await self._domain_search(lead, wanted)
        params = {"domain": lead.company_domain, "first_name": lead.first_name, "last_name": lead.last_name}
        payload = await self.caller.call(
            "GET", self.finder_url, params={**params, **self.key}, deadline=wanted.deadline
        )
        data = payload.get("data") if isinstance(payload, dict) else None
        if payload is NOT_FOUND or not isinstance(data, dict) or not data.get("email"):
            return None
        person = normalize_person(
            {
                "first_name": data.get("first_name") or lead.first_name,
                "last_name": data.get("last_name") or lead.last_name,
                "email": data.get("email"),
                "title": data.get("position"),
                "phone": data.get("phone_number"),
                "linkedin_url": data.get("linkedin_url"),
            }
        )
        if "email" not in person:
            return None
        # The vendor says who it looked for, not who it found: the score is how sure the email is.
        return ProviderMatch(
            _score(data.get("score")), person=person, company={"domain": lead.company_domain}
        )

    async def _domain_search(self, lead: Lead, wanted: Wanted) -> Answer:
        params = {"domain": lead.company_domain, "limit": str(self.config.domain_search_limit), **self.key}
        payload = await self.caller.call("GET", self.search_url, params=params, deadline=wanted.deadline)
        data = payload.get("data") if isinstance(payload, dict) else None
        if payload is NOT_FOUND or not isinstance(data, dict):
            return None
        contacts: list[Fields] = []
        for entry in data.get("emails") or []:
            if not isinstance(entry, dict) or entry.get("type") == "generic":
                continue
            person = normalize_person(
                {
                    "first_name": entry.get("first_name"),
                    "last_name": entry.get("last_name"),
                    "email": entry.get("value"),
                    "title": entry.get("position"),
                    "phone": entry.get("phone_number"),
                    "linkedin_url": entry.get("linkedin"),
                }
            )
            if "email" in person:
                contacts.append({**person, "confidence": _score(entry.get("confidence"))})
        company = normalize_company(
            {"name": data.get("organization"), "domain": data.get("domain") or lead.company_domain}
        )
        if not contacts and "name" not in company:
            return None
        contacts.sort(key=lambda c: -float(c["confidence"]))
        return ProviderMatch(0.95, company=company, contacts=tuple(contacts[: wanted.max_contacts]))
