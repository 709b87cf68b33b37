"""Every error class of the Python SDK from a real answer of the gateway (or a real socket), and
its retries: a lost answer to a POST retried under the same Idempotency-Key and charged once, a
429 waited out as Retry-After says, a 503 retried then raised, no retry of a POST without a key."""

from __future__ import annotations

import pytest

from leadmesh_client import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncLeadmesh,
    AuthenticationError,
    ConflictError,
    InsufficientCreditsError,
    InvalidRequestError,
    Leadmesh,
    LeadmeshError,
    NotFoundError,
    RateLimitError,
)
from libs.embedded_store import free_port
from tests.sdk.python.conftest import Proxy, another_gateway, base_url, in_thread
from tests.services.enrichment.mesh import Mesh


def upstream(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").partition(":")
    return host, int(port)


async def test_401_402_404_409_422_and_400_each_raise_their_class(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=0)
    url = base_url(mesh)
    async with AsyncLeadmesh("lm_live_not_a_key", base_url=url) as stranger:
        with pytest.raises(AuthenticationError) as unknown:
            await stranger.credits.get()
    assert unknown.value.status == 401 and unknown.value.code == "API_KEY_INVALID"
    assert unknown.value.request_id and unknown.value.message

    async with AsyncLeadmesh(key, base_url=url) as client:
        with pytest.raises(InsufficientCreditsError) as broke:
            await client.enrich.lead(email="ana@techflow.io")
        assert broke.value.status == 402 and broke.value.code == "INSUFFICIENT_CREDITS"
        assert broke.value.balance == 0 and await mesh.balance(account) == 0

        with pytest.raises(NotFoundError) as missing:
            await client.enrichments.get("ev_0000000000000000000000")
        assert missing.value.status == 404 and missing.value.code == "ENRICHMENT_NOT_FOUND"

        with pytest.raises(InvalidRequestError) as invalid:
            await client.enrich.lead(company_domain="techflow.io", max_contacts=0)
        assert invalid.value.status == 422 and invalid.value.field == "max_contacts"

        with pytest.raises(InvalidRequestError) as no_input:
            await client.enrich.lead()
        assert no_input.value.status == 400 and no_input.value.code

    _, rich_key = await mesh.new_account(credits=5)
    async with AsyncLeadmesh(rich_key, base_url=url) as client:
        await client.enrich.lead(email="ana@techflow.io", idempotency_key="once")
        with pytest.raises(ConflictError) as reused:
            await client.enrich.lead(email="tom@techflow.io", idempotency_key="once")
        assert reused.value.status == 409 and reused.value.code == "IDEMPOTENCY_KEY_REUSED"
    for error in (unknown, broke, missing, invalid, reused):
        assert isinstance(error.value, LeadmeshError)


async def test_a_post_whose_answer_was_lost_is_retried_and_charged_once(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    async with Proxy(upstream(base_url(mesh)), lose_answers=1) as proxy:
        with Leadmesh(key, base_url=proxy.url) as client:
            result = await in_thread(lambda: client.enrich.lead(email="lena@techflow.io"))
    assert result.status == "completed" and result.lead.email == "lena@techflow.io"
    keys = proxy.requests_with(b"idempotency-key")
    assert len(keys) == 2 and keys[0] == keys[1]  # served twice by the gateway, under one key
    assert await mesh.balance(account) == 9


async def test_a_post_without_a_key_is_not_retried(mesh: Mesh) -> None:
    """Only the SDK's own calls get a key; a lost answer of a key-less POST is the caller's error."""
    from leadmesh_client._core import Call

    account, key = await mesh.new_account(credits=10)
    async with (
        Proxy(upstream(base_url(mesh)), lose_answers=1) as proxy,
        AsyncLeadmesh(key, base_url=proxy.url) as client,
    ):
        with pytest.raises(APIConnectionError):
            await client._send(Call("POST", "/v1/enrich/lead", json={"email": "lena@techflow.io"}))
    assert len(proxy.sent) == 1 and await mesh.balance(account) == 9


async def test_429_is_raised_with_retry_after_or_waited_out(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=10)
    async with another_gateway(mesh, enrich_rate_per_second=1.0, enrich_rate_burst=1) as url:
        async with AsyncLeadmesh(key, base_url=url, max_retries=0) as impatient:
            await impatient.enrich.lead(email="ana@techflow.io")
            with pytest.raises(RateLimitError) as limited:
                await impatient.enrich.lead(email="ana@techflow.io")
        assert limited.value.status == 429 and limited.value.code == "RATE_LIMITED"
        assert limited.value.retry_after is not None and limited.value.retry_after >= 1
        async with (
            Proxy(upstream(url)) as proxy,
            AsyncLeadmesh(key, base_url=proxy.url, max_retries=3) as patient,
        ):
            await patient.enrich.lead(email="tom@techflow.io")  # the bucket is empty again
            answer = await patient.enrich.lead(email="lena@techflow.io")
        assert answer.status == "completed"
        keys = proxy.requests_with(b"idempotency-key")
        assert len(keys) >= 3 and keys[-1] == keys[-2]  # the refused request went again, same key


async def test_503_is_retried_then_raised_as_api_error(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=10)
    dead = f"127.0.0.1:{free_port()}"
    async with (
        another_gateway(mesh, enrichment_addr=dead, rpc_timeout=0.5, enrich_timeout=0.5) as url,
        Proxy(upstream(url)) as proxy,
        AsyncLeadmesh(key, base_url=proxy.url, max_retries=1) as client,
    ):
        with pytest.raises(APIError) as failed:
            await client.enrich.lead(email="ana@techflow.io")
    assert failed.value.status == 503 and failed.value.code and failed.value.request_id
    assert len(proxy.requests_with(b"idempotency-key")) == 2


async def test_no_server_and_no_answer_in_time(mesh: Mesh) -> None:
    async with AsyncLeadmesh("k", base_url=f"http://127.0.0.1:{free_port()}", max_retries=1) as client:
        with pytest.raises(APIConnectionError) as refused:
            await client.credits.get()
    assert not isinstance(refused.value, APITimeoutError) and refused.value.status is None
    async with Proxy(upstream(base_url(mesh)), hang=True) as proxy:
        with Leadmesh("k", base_url=proxy.url, timeout=0.3, max_retries=1) as client:
            with pytest.raises(APITimeoutError):
                await in_thread(client.credits.get)
    assert len(proxy.sent) == 2  # a GET is retried after a timeout
