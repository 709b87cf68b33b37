"""A provider declared in configuration: URL template, auth header, field mapping, confidence."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from services.providers.adapters.http import NOT_FOUND, HttpCaller
from services.providers.adapters.remote import RemoteProvider, dig
from services.providers.config import HttpJsonConfig
from services.providers.domain.fields import normalize_company, normalize_person
from services.providers.domain.models import Lead, ProviderMatch, Wanted
from services.providers.domain.ports import Answer

__all__ = ["HttpJsonProvider"]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_ALIASES = {"employees": "employee_count", "website": "domain"}


class HttpJsonProvider(RemoteProvider):
    def __init__(self, config: HttpJsonConfig, caller: HttpCaller, secret: str | None):
        super().__init__(config.name, config.cost, config.cache_ttl, config.batch_timeout, caller)
        self.config = config
        self.provides = frozenset(config.provides)
        self.placeholders = sorted(config.placeholders)
        self.headers = {config.auth_header: f"{config.auth_prefix}{secret}"} if secret else {}

    def _values(self, lead: Lead) -> dict[str, str]:
        return {name: str(getattr(lead, name)) for name in self.placeholders}

    def accepts(self, lead: Lead) -> bool:
        return all(self._values(lead).values())

    def cache_key(self, lead: Lead) -> str:
        return "|".join(f"{k}={v}" for k, v in self._values(lead).items())

    async def answer(self, lead: Lead, wanted: Wanted) -> Answer:
        values = self._values(lead)
        url = _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe="@"), self.config.url)
        body = None
        if self.config.method == "POST":
            body = {k: _PLACEHOLDER.sub(lambda m: values[m.group(1)], v) for k, v in self.config.body.items()}
        payload = await self.caller.call(
            self.config.method, url, headers=self.headers, body=body, deadline=wanted.deadline
        )
        if payload is NOT_FOUND:
            return None
        record = dig(payload, self.config.result_path)
        if isinstance(record, list):
            record = record[0] if record else None
        if not isinstance(record, dict) or not record:
            return None
        person_raw: dict[str, Any] = {}
        company_raw: dict[str, Any] = {}
        for target, path in self.config.fields.items():
            scope, _, name = target.partition(".")
            value = dig(record, path)
            if value is None or value == "":
                continue
            (person_raw if scope == "person" else company_raw)[_ALIASES.get(name, name)] = value
        person, company = normalize_person(person_raw), normalize_company(company_raw)
        if not person and not company:
            return None
        return ProviderMatch(self._confidence(payload, record), person=person, company=company)

    def _confidence(self, payload: Any, record: dict[str, Any]) -> float:
        field = self.config.confidence_field
        if not field:
            return self.config.default_confidence
        raw = dig(record, field)
        if raw is None:
            raw = dig(payload, field)
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            return self.config.default_confidence
        return max(0.0, min(1.0, float(raw) / self.config.confidence_scale))
