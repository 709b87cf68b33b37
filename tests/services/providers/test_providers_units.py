"""Pure parts of the providers service: configuration, circuit breaker, Retry-After, outbound
policy settings, and the identity check that keeps a confident wrong person out."""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from libs.mongo import utc_now
from services.providers.adapters.remote import dig
from services.providers.adapters.resilience import BreakerState, CircuitBreaker, retry_after_seconds
from services.providers.app import outbound_policy
from services.providers.config import HttpJsonConfig, load_config, parse_config
from services.providers.domain.fields import lead_from_input
from services.providers.domain.identity import agreement
from services.providers.domain.models import ProviderMatch, Record
from services.providers.settings import ProvidersSettings

GENERIC: dict[str, Any] = {
    "kind": "http_json",
    "name": "acme",
    "url": "https://api.acme.example/v1/person?email={email}",
    "auth_env": "ACME_TOKEN",
    "fields": {"person.title": "job.title"},
}


def test_configuration_reads_secrets_from_the_environment() -> None:
    config = parse_config(json.dumps({"order": ["acme"], "providers": [GENERIC]}), {"ACME_TOKEN": "t0k"})
    assert config.order == ["acme"] and config.secrets == {"acme": "t0k"}
    provider = config.providers[0]
    assert isinstance(provider, HttpJsonConfig) and provider.placeholders == {"email"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "https://x.example/{password}"}, "unknown placeholders"),
        ({"url": "https://x.example/person"}, "at least one lead placeholder"),
        ({"fields": {"person.salary": "pay"}}, "unknown field"),
        ({"name": "Bad Name"}, "pattern"),
        ({"timeout": 0}, "greater than 0"),
    ],
)
def test_configuration_mistakes_are_caught_at_start(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_config(json.dumps({"providers": [{**GENERIC, **change}]}), {"ACME_TOKEN": "t"})


def test_a_missing_secret_or_a_duplicate_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="ACME_TOKEN is not set"):
        parse_config(json.dumps({"providers": [GENERIC]}), {})
    with pytest.raises(ValidationError, match="unique"):
        parse_config(json.dumps({"providers": [GENERIC, GENERIC]}), {"ACME_TOKEN": "t"})


def test_configuration_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(
        'order = ["finder"]\n[[providers]]\nkind = "email_finder"\nname = "finder"\n'
        'base_url = "https://api.finder.example"\napi_key_env = "FINDER_KEY"\ncost = 0.02\n'
    )
    config = load_config(ProvidersSettings(providers_config=path), {"FINDER_KEY": "k"})
    assert [p.name for p in config.providers] == ["finder"] and config.secrets == {"finder": "k"}
    assert load_config(ProvidersSettings(), {}).providers == []


def test_the_circuit_breaker_opens_cools_down_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown=10, clock=lambda: now[0])
    breaker.failed()
    assert breaker.allow()
    breaker.failed()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    now[0] = 10.5
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow(), "one trial call at a time"
    breaker.failed()
    assert breaker.state is BreakerState.OPEN
    now[0] = 21
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("0.25") == 0.25
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = format_datetime(utc_now() + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after_seconds(later) or 0) <= 30


@pytest.mark.parametrize(
    "url",
    [
        "https://{company_domain}/v1/person",
        "https://api.{company_domain}/v1/person?email={email}",
        "https://{email}@api.acme.example/v1/person",
        "https://api.acme.example:{first_name}/v1/person?email={email}",
        "{linkedin_url}/v1/person",
        "https://api.acme.example/v1/person?email={email}#{last_name}",
    ],
)
def test_a_placeholder_outside_the_path_and_query_is_refused_at_load(url: str) -> None:
    with pytest.raises(
        ValidationError,
        match=r"(only allowed in the url's path and query|placeholders only in its path and query)",
    ):
        parse_config(json.dumps({"providers": [{**GENERIC, "url": url}]}), {"ACME_TOKEN": "t"})


def test_a_placeholder_in_the_host_names_the_rule_and_the_placeholder() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_config(
            json.dumps(
                {"providers": [{**GENERIC, "url": "https://{company_domain}.api.example/p?e={email}"}]}
            ),
            {"ACME_TOKEN": "t"},
        )
    message = str(refused.value)
    assert "acme: placeholders ['company_domain'] are only allowed in the url's path and query" in message


def test_placeholders_in_the_path_and_query_are_accepted() -> None:
    url = "http://api.acme.example:8080/v1/{company_domain}/people?email={email}&first={first_name}"
    config = parse_config(json.dumps({"providers": [{**GENERIC, "url": url}]}), {"ACME_TOKEN": "t"})
    provider = config.providers[0]
    assert isinstance(provider, HttpJsonConfig)
    assert provider.placeholders == {"company_domain", "email", "first_name"}


def test_the_outbound_policy_follows_the_settings() -> None:
    strict = outbound_policy(ProvidersSettings())
    assert not strict.allows("127.0.0.1") and not strict.allows("64:ff9b::7f00:1")
    assert strict.allows("8.8.8.8")
    lan = outbound_policy(ProvidersSettings(providers_allowed_networks=["10.20.0.0/16"]))
    assert lan.allows("10.20.1.2") and not lan.allows("10.21.0.1") and not lan.allows("127.0.0.1")
    anywhere = outbound_policy(ProvidersSettings(providers_allow_private_urls=True))
    assert anywhere.allows("127.0.0.1") and anywhere.allows("::1") and anywhere.allows("10.0.0.1")
    with pytest.raises(ValidationError, match="does not appear to be an IPv4 or IPv6 network"):
        ProvidersSettings(providers_allowed_networks=["10.20.0.0/99"])


def test_dig_follows_dotted_paths() -> None:
    body = {"data": {"emails": [{"address": "a@b.co"}], "job": {"title": "CTO"}}}
    assert dig(body, "data.job.title") == "CTO"
    assert dig(body, "data.emails.0.address") == "a@b.co"
    assert dig(body, "data.emails.3.address") is None and dig(body, "nope.x") is None
    assert dig(body, "") is body


def test_identity_agreement() -> None:
    lead = lead_from_input(first_name="Jane", last_name="Doe", company_domain="initech.com")
    same = ProviderMatch(
        0.9, person={"first_name": "Jane", "last_name": "Doe"}, company={"domain": "initech.com"}
    )
    other = ProviderMatch(0.9, person={"first_name": "John", "last_name": "Smith"})
    moved = ProviderMatch(
        0.9, person={"first_name": "Jane", "last_name": "Doe"}, company={"domain": "hooli.com"}
    )
    assert agreement(lead, Record(), Record(), same) == 1.0
    assert agreement(lead, Record(), Record(), other) == 0.0
    assert agreement(lead, Record(), Record(), moved) == 0.5
    by_email = lead_from_input(email="jane@initech.com")
    assert (
        agreement(by_email, Record(), Record(), ProviderMatch(0.9, person={"email": "j.doe@initech.com"}))
        == 0.0
    )
