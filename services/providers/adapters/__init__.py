"""Provider adapters behind the one ``Provider`` interface (services.providers.domain.ports)."""

from __future__ import annotations

import httpx

from services.providers.adapters.email_vendor import EmailFinderProvider
from services.providers.adapters.http import AddressGuard, CallPolicy, HttpCaller
from services.providers.adapters.http_json import HttpJsonProvider
from services.providers.adapters.person_vendor import PersonVendorProvider
from services.providers.config import EmailFinderConfig, HttpJsonConfig, PersonVendorConfig, ProvidersConfig
from services.providers.domain.ports import Provider

__all__ = ["build_external"]


def build_external(config: ProvidersConfig, http: httpx.AsyncClient, allow_private: bool) -> list[Provider]:
    """The configured external providers, all on the one pooled HTTP client, each with its own
    timeout, concurrency limit, retry policy and circuit breaker."""
    guard = AddressGuard(allow_private=allow_private)
    providers: list[Provider] = []
    for entry in config.providers:
        policy = CallPolicy(
            timeout=entry.timeout,
            concurrency=entry.concurrency,
            max_retries=entry.max_retries,
            max_retry_after=entry.max_retry_after,
            breaker_failures=entry.breaker_failures,
            breaker_cooldown=entry.breaker_cooldown,
            not_found_status=frozenset(entry.not_found_status)
            if isinstance(entry, HttpJsonConfig)
            else frozenset({404}),
        )
        caller = HttpCaller(entry.name, http, policy, guard)
        secret = config.secrets.get(entry.name)
        if isinstance(entry, HttpJsonConfig):
            providers.append(HttpJsonProvider(entry, caller, secret))
        elif isinstance(entry, PersonVendorConfig):
            providers.append(PersonVendorProvider(entry, caller, secret))
        elif isinstance(entry, EmailFinderConfig):
            providers.append(EmailFinderProvider(entry, caller, secret))
    return providers
