"""Provider adapters behind the one ``Provider`` interface (services.providers.domain.ports)."""

from __future__ import annotations

import httpx

from services.providers.adapters.email_vendor import EmailFinderProvider
from services.providers.adapters.http import CallPolicy, HttpCaller
from services.providers.adapters.http_json import HttpJsonProvider
from services.providers.adapters.person_vendor import PersonVendorProvider
from services.providers.config import EmailFinderConfig, HttpJsonConfig, PersonVendorConfig, ProvidersConfig
from services.providers.domain.ports import Provider

__all__ = ["build_external"]


def build_external(config: ProvidersConfig, http: httpx.AsyncClient) -> list[Provider]:
    """The configured external providers, all on the one pooled HTTP client (a
    :func:`libs.safe_http.guarded_client`), each with its own timeout, concurrency limit, retry
    policy and circuit breaker."""
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
        caller = HttpCaller(entry.name, http, policy)
        secret = config.secrets.get(entry.name)
        if isinstance(entry, HttpJsonConfig):
            providers.append(HttpJsonProvider(entry, caller, secret))
        elif isinstance(entry, PersonVendorConfig):
            providers.append(PersonVendorProvider(entry, caller, secret))
        elif isinstance(entry, EmailFinderConfig):
            providers.append(EmailFinderProvider(entry, caller, secret))
    return providers
