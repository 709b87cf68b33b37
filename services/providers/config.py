"""External providers declared in configuration, not code.

A JSON or TOML document (file ``LEADMESH_PROVIDERS_CONFIG`` or inline ``LEADMESH_PROVIDERS_JSON``)::

    {
      "order": ["directory", "acme_people", "finder"],
      "providers": [
        {"kind": "http_json", "name": "acme_people",
         "url": "https://api.acme-data.example/v1/person?email={email}",
         "auth_header": "Authorization", "auth_env": "ACME_TOKEN", "auth_prefix": "Bearer ",
         "result_path": "data", "confidence_field": "match.score", "confidence_scale": 100,
         "fields": {"person.first_name": "first_name", "person.title": "job.title",
                    "company.domain": "company.website"},
         "provides": ["person", "phone"], "cost": 0.02, "timeout": 3, "concurrency": 8},
        {"kind": "person_enrichment", "name": "people_vendor",
         "base_url": "https://api.people-vendor.example", "api_key_env": "PEOPLE_VENDOR_KEY"},
        {"kind": "email_finder", "name": "finder",
         "base_url": "https://api.email-finder.example", "api_key_env": "FINDER_KEY"}
      ]
    }

Secrets never sit in the document: it names the environment variable that holds each one, read
once when the configuration is loaded.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from services.providers.domain.models import COMPANY_FIELDS, PERSON_FIELDS, FieldGroup
from services.providers.settings import ProvidersSettings

__all__ = [
    "EmailFinderConfig",
    "HttpJsonConfig",
    "PersonVendorConfig",
    "ProviderConfig",
    "ProvidersConfig",
    "load_config",
    "parse_config",
]

_NAME = r"^[a-z][a-z0-9_]{1,39}$"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# What a URL template may ask for: the lead's normalised identifiers.
LEAD_PLACEHOLDERS = frozenset(
    {"email", "first_name", "last_name", "full_name", "company_name", "company_domain", "linkedin_url"}
)


def _check_url_template(name: str, url: str) -> None:
    """An http(s) URL with a fixed host: placeholders only in its path and query, so that a lead's
    value can never choose where the call goes."""
    parts = urlsplit(url)
    outside = _PLACEHOLDER.findall(f"{parts.scheme}://{parts.netloc}#{parts.fragment}")
    if outside:
        raise ValueError(
            f"{name}: placeholders {sorted(set(outside))} are only allowed in the url's path and "
            f"query, not in its scheme, host, port or fragment: {url!r}"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{name}: the url must be http(s) with a host (placeholders only in its path and query): {url!r}"
        )


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    # What one call costs, in any consistent unit; the default order is cheapest first.
    cost: float = Field(default=0.01, ge=0)
    # Seconds one HTTP call may take, and one batch of leads (its calls, retries included).
    timeout: float = Field(default=5.0, gt=0, le=120)
    batch_timeout: float = Field(default=60.0, gt=0, le=600)
    # Calls in flight to this provider at once.
    concurrency: int = Field(default=8, ge=1, le=256)
    # Retries of a call answered 429 (waiting what Retry-After says, at most max_retry_after).
    max_retries: int = Field(default=2, ge=0, le=10)
    max_retry_after: float = Field(default=10.0, ge=0)
    # Consecutive failures that open the circuit breaker, and seconds it stays open.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown: float = Field(default=30.0, gt=0)
    # Seconds an answer stays fresh in the lookup cache (0: not cached).
    cache_ttl: float = Field(default=7 * 24 * 3600.0, ge=0)


class HttpJsonConfig(_Common):
    kind: Literal["http_json"]
    # e.g. https://api.example.com/v1/person?email={email}; placeholders are lead fields.
    url: str
    method: Literal["GET", "POST"] = "GET"
    # For POST: a JSON body whose string values may hold placeholders.
    body: dict[str, str] = Field(default_factory=dict)
    auth_header: str = "Authorization"
    auth_env: str | None = None
    auth_prefix: str = ""
    # Dotted path to the matched record in the response ("" for the whole body).
    result_path: str = ""
    # Our field ("person.title", "company.domain") -> dotted path inside the record.
    fields: dict[str, str]
    # Dotted path of the match confidence, and what it is out of (1, 10, 100).
    confidence_field: str | None = None
    confidence_scale: float = Field(default=1.0, gt=0)
    # Confidence of a match when the provider gives none.
    default_confidence: float = Field(default=0.9, ge=0, le=1)
    # HTTP statuses that mean "no match" rather than failure.
    not_found_status: list[int] = Field(default_factory=lambda: [404])
    provides: list[FieldGroup] = Field(default_factory=lambda: [FieldGroup.PERSON])

    @property
    def placeholders(self) -> frozenset[str]:
        found = set(_PLACEHOLDER.findall(self.url))
        for value in self.body.values():
            found |= set(_PLACEHOLDER.findall(value))
        return frozenset(found)

    @model_validator(mode="after")
    def _check(self) -> HttpJsonConfig:
        _check_url_template(self.name, self.url)
        unknown = self.placeholders - LEAD_PLACEHOLDERS
        if unknown:
            raise ValueError(f"{self.name}: unknown placeholders {sorted(unknown)}")
        if not self.placeholders:
            raise ValueError(f"{self.name}: the url (or body) must use at least one lead placeholder")
        for target in self.fields:
            scope, _, name = target.partition(".")
            allowed = PERSON_FIELDS if scope == "person" else COMPANY_FIELDS if scope == "company" else ()
            if name not in allowed and name not in ("employees", "website"):
                raise ValueError(f"{self.name}: unknown field {target!r}")
        return self


class PersonVendorConfig(_Common):
    """A person-enrichment vendor: GET {base_url}/v5/person/enrich, likelihood 0-10 per match."""

    kind: Literal["person_enrichment"]
    base_url: str
    api_key_env: str | None = None
    # Matches below this likelihood are not returned by the vendor.
    min_likelihood: int = Field(default=6, ge=1, le=10)
    cost: float = Field(default=0.1, ge=0)


class EmailFinderConfig(_Common):
    """An email-finder vendor: GET {base_url}/v2/email-finder (pattern + score) and
    /v2/domain-search (a company's addresses)."""

    kind: Literal["email_finder"]
    base_url: str
    api_key_env: str | None = None
    cost: float = Field(default=0.03, ge=0)
    # How many addresses a domain search asks for (company-only leads).
    domain_search_limit: int = Field(default=10, ge=1, le=100)


ProviderConfig = Annotated[
    HttpJsonConfig | PersonVendorConfig | EmailFinderConfig, Field(discriminator="kind")
]


class ProvidersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order: list[str] = Field(default_factory=list)
    providers: list[ProviderConfig] = Field(default_factory=list)
    # Secret values by provider name, resolved from the environment at load time.
    secrets: dict[str, str] = Field(default_factory=dict, exclude=True)

    @field_validator("providers")
    @classmethod
    def _unique(cls, providers: list[ProviderConfig]) -> list[ProviderConfig]:
        names = [p.name for p in providers]
        duplicate = {n for n in names if names.count(n) > 1} | ({"directory"} & set(names))
        if duplicate:
            raise ValueError(f"provider names must be unique and not 'directory': {sorted(duplicate)}")
        return providers


_ADAPTER: TypeAdapter[ProvidersConfig] = TypeAdapter(ProvidersConfig)


def parse_config(text: str, environ: Mapping[str, str], toml: bool = False) -> ProvidersConfig:
    """The configuration in ``text`` with each provider's secret read from ``environ``."""
    data = tomllib.loads(text) if toml else json.loads(text)
    config = _ADAPTER.validate_python(data)
    secrets: dict[str, str] = {}
    for provider in config.providers:
        env = provider.auth_env if isinstance(provider, HttpJsonConfig) else provider.api_key_env
        if env:
            value = environ.get(env, "")
            if not value:
                raise ValueError(f"provider {provider.name}: environment variable {env} is not set")
            secrets[provider.name] = value
    return config.model_copy(update={"secrets": secrets})


def load_config(settings: ProvidersSettings, environ: Mapping[str, str]) -> ProvidersConfig:
    """From LEADMESH_PROVIDERS_CONFIG (a .json or .toml file) or LEADMESH_PROVIDERS_JSON; with
    neither, only the directory runs."""
    if settings.providers_config is not None:
        path = settings.providers_config
        return parse_config(path.read_text(encoding="utf-8"), environ, toml=path.suffix.lower() == ".toml")
    if settings.providers_json:
        return parse_config(settings.providers_json, environ)
    return ProvidersConfig()
