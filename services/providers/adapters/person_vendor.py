"""A person-enrichment vendor, shaped like the public person-enrich APIs: one GET per lead with
whatever identifies the person, answered with the person, their employer and a likelihood
(0-10) that the match is right.

    GET {base_url}/v5/person/enrich?email=...&profile=...&name=...&company=...&min_likelihood=6
    X-Api-Key: <key>
    200 {"status": 200, "likelihood": 8, "data": {"full_name": ..., "job_title": ...,
         "job_company_name": ..., "job_company_website": ..., "work_email": ..., ...}}
    404 {"status": 404, "error": {"type": "not_found", ...}}
"""

from __future__ import annotations

from typing import Any

from services.providers.adapters.http import NOT_FOUND, HttpCaller
from services.providers.adapters.remote import RemoteProvider
from services.providers.config import PersonVendorConfig
from services.providers.domain.fields import normalize_company, normalize_person
from services.providers.domain.models import FieldGroup, Lead, ProviderMatch, Wanted
from services.providers.domain.ports import Answer

__all__ = ["PersonVendorProvider"]


def _emails(data: dict[str, Any]) -> list[str]:
    found = [data.get("work_email"), data.get("recommended_personal_email")]
    for entry in data.get("emails") or []:
        found.append(entry.get("address") if isinstance(entry, dict) else entry)
    return [str(e).strip().lower() for e in found if e]


class PersonVendorProvider(RemoteProvider):
    provides = frozenset(
        {FieldGroup.PERSON, FieldGroup.COMPANY, FieldGroup.EMAIL, FieldGroup.PHONE, FieldGroup.LINKEDIN}
    )

    def __init__(self, config: PersonVendorConfig, caller: HttpCaller, secret: str | None):
        super().__init__(config.name, config.cost, config.cache_ttl, config.batch_timeout, caller)
        self.config = config
        self.url = config.base_url.rstrip("/") + "/v5/person/enrich"
        self.headers = {"X-Api-Key": secret} if secret else {}

    def accepts(self, lead: Lead) -> bool:
        return lead.has_person

    def _params(self, lead: Lead) -> dict[str, str]:
        params = {"min_likelihood": str(self.config.min_likelihood)}
        if lead.email:
            params["email"] = lead.email
        if lead.linkedin_url:
            params["profile"] = lead.linkedin_url
        if lead.first_name and lead.last_name:
            params["first_name"], params["last_name"] = lead.first_name, lead.last_name
        if lead.company_domain:
            params["company"] = lead.company_domain
        elif lead.company_name:
            params["company"] = lead.company_name
        return params

    def cache_key(self, lead: Lead) -> str:
        return "&".join(f"{k}={v}" for k, v in sorted(self._params(lead).items()))

    async def answer(self, lead: Lead, wanted: Wanted) -> Answer:
        payload = await self.caller.call(
            "GET", self.url, params=self._params(lead), headers=self.headers, deadline=wanted.deadline
        )
        if payload is NOT_FOUND or not isinstance(payload, dict):
            return None
        data = payload.get("data")
        if not isinstance(data, dict) or not data:
            return None
        likelihood = float(payload.get("likelihood", 0))
        emails = _emails(data)
        # The address we asked with is theirs when the vendor lists it among their addresses.
        email = lead.email if lead.email and lead.email in emails else (emails[0] if emails else "")
        phones = data.get("phone_numbers") or []
        person = normalize_person(
            {
                "first_name": data.get("first_name"),
                "last_name": data.get("last_name"),
                "full_name": data.get("full_name"),
                "email": email,
                "title": data.get("job_title"),
                "phone": data.get("mobile_phone") or (phones[0] if phones else None),
                "linkedin_url": data.get("linkedin_url"),
                "city": data.get("location_locality"),
                "country": data.get("location_country_code"),
            }
        )
        company = normalize_company(
            {
                "name": data.get("job_company_name"),
                "domain": data.get("job_company_website"),
                "size": data.get("job_company_size"),
                "employee_count": data.get("job_company_employee_count"),
                "industry": data.get("job_company_industry"),
                "linkedin_url": data.get("job_company_linkedin_url"),
            }
        )
        if not person and not company:
            return None
        return ProviderMatch(max(0.0, min(1.0, likelihood / 10.0)), person=person, company=company)
