"""Per-caller limits of the gateway in front of real billing and scoring: every authenticated
route spends its key's budget of its class, failed authentications are limited per client
address before billing is asked (counted by billing's own rpc.server.duration), and
X-Forwarded-For is believed only from a trusted proxy."""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import Request

from gateway.app import create_app
from gateway.limits import client_address
from gateway.settings import GatewaySettings
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from libs.embedded_store import free_port
from libs.mongo import Document
from services.billing.app import create_server as create_billing
from services.billing.settings import BillingSettings
from services.scoring.app import create_server as create_scoring
from services.scoring.settings import ScoringSettings
from tests import grpc_callers
from tests.metric_points import points_where
from tests.waiting import eventually

AUTHENTICATE = "/leadmesh.billing.v1.BillingService/Authenticate"
SLOW = 0.001  # tokens a second: nothing refills during a test


class Gateway:
    def __init__(self, http: httpx.AsyncClient, billing: billing_grpc.BillingServiceStub):
        self.http = http
        self.billing = billing

    async def new_key(self) -> str:
        created = await self.billing.CreateAccount(
            billing_pb.CreateAccountRequest(name="Acme", create_api_key=True)
        )
        return created.api_key_secret


@asynccontextmanager
async def gateway(db: AsyncDatabase[Document], **limits: Any) -> AsyncIterator[Gateway]:
    """The gateway (with ``limits`` as its settings) before real billing and scoring."""
    billing = await create_billing(db, BillingSettings(shutdown_grace=0.5), "127.0.0.1:0")
    billing_addr = f"127.0.0.1:{await billing.start()}"
    scoring = await create_scoring(db, ScoringSettings(shutdown_grace=0.5), "127.0.0.1:0")
    scoring_addr = f"127.0.0.1:{await scoring.start()}"
    settings = GatewaySettings(
        billing_addr=billing_addr, scoring_addr=scoring_addr, gateway_dependencies=["billing"], **limits
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, proxy_headers=False
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
            grpc_callers.channel(billing_addr) as channel,
        ):
            yield Gateway(http, billing_grpc.BillingServiceStub(channel))
    finally:
        server.should_exit = True
        await task
        await scoring.stop()
        await billing.stop()


def bearer(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


def bogus_key() -> str:
    return "lm_live_" + secrets.token_hex(16)


def authentications(reader: InMemoryMetricReader) -> int:
    """The Authenticate calls billing has served in this test process so far."""
    return sum(
        int(point.count)
        for point in points_where(reader, "rpc.server.duration", {"rpc.method": AUTHENTICATE})
    )


def assert_limited(response: httpx.Response, code: str, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["type"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) >= 1


ICP = {"seniorities": {"values": ["vp"], "weight": 100}}


async def test_every_authenticated_route_spends_its_keys_budget_of_its_class(
    db: AsyncDatabase[Document],
) -> None:
    async with gateway(
        db, read_rate_per_second=SLOW, read_rate_burst=3, write_rate_per_second=SLOW, write_rate_burst=2
    ) as gw:
        key, other = await gw.new_key(), await gw.new_key()
        reads = [
            await gw.http.get(path, headers=bearer(key)) for path in ("/v1/credits", "/v1/icp", "/v1/jobs")
        ]
        # No batch service here: the jobs read fails, and was still one call of the key's.
        assert [r.status_code for r in reads] == [200, 200, 503]
        assert [r.headers["X-RateLimit-Remaining"] for r in reads] == ["2", "1", "0"]
        assert all(r.headers["X-RateLimit-Limit"] == "3" for r in reads)
        assert_limited(await gw.http.get("/v1/credits", headers=bearer(key)), "RATE_LIMITED", 3)
        assert_limited(await gw.http.get("/v1/webhooks/secret", headers=bearer(key)), "RATE_LIMITED", 3)
        # Writes have their own budget, and another key its own buckets.
        written = await gw.http.put("/v1/icp", json=ICP, headers=bearer(key))
        assert written.status_code == 200, written.text
        assert written.headers["X-RateLimit-Limit"] == "2" and written.headers["X-RateLimit-Remaining"] == "1"
        assert (await gw.http.put("/v1/icp", json=ICP, headers=bearer(key))).status_code == 200
        assert_limited(await gw.http.put("/v1/icp", json=ICP, headers=bearer(key)), "RATE_LIMITED", 2)
        assert (await gw.http.get("/v1/credits", headers=bearer(other))).status_code == 200


async def test_a_bogus_key_flood_is_refused_before_billing_after_the_failure_budget(
    db: AsyncDatabase[Document], metric_reader: InMemoryMetricReader
) -> None:
    async with gateway(db, auth_failure_rate_per_second=SLOW, auth_failure_burst=5) as gw:
        good = await gw.new_key()
        assert (await gw.http.get("/v1/credits", headers=bearer(good))).status_code == 200  # now cached
        before = authentications(metric_reader)
        answers = [await gw.http.get("/v1/credits", headers=bearer(bogus_key())) for _ in range(40)]
        assert [r.status_code for r in answers[:5]] == [401] * 5
        assert {r.json()["error"]["code"] for r in answers[:5]} == {"API_KEY_INVALID"}
        for refused in answers[5:]:
            assert_limited(refused, "TOO_MANY_AUTH_FAILURES", 5)
        # Only the five failures the budget allows reached billing.
        assert authentications(metric_reader) - before == 5
        # A key this gateway knows (its cached answer) costs nothing and still works from there; a
        # key it must look up waits for the address's budget like any other.
        assert (await gw.http.get("/v1/credits", headers=bearer(good))).status_code == 200
        fresh = await gw.new_key()
        assert_limited(await gw.http.get("/v1/credits", headers=bearer(fresh)), "TOO_MANY_AUTH_FAILURES", 5)
        assert authentications(metric_reader) - before == 5


@pytest.mark.parametrize("trusted", [False, True])
async def test_x_forwarded_for_names_the_client_only_behind_a_trusted_proxy(
    db: AsyncDatabase[Document], trusted: bool
) -> None:
    proxies = ["127.0.0.0/8", "10.0.0.0/8"] if trusted else []
    async with gateway(
        db, auth_failure_rate_per_second=SLOW, auth_failure_burst=2, trusted_proxies=proxies
    ) as gw:

        async def attempt(forwarded_for: str) -> int:
            headers = bearer(bogus_key(), **{"X-Forwarded-For": forwarded_for})
            return (await gw.http.get("/v1/credits", headers=headers)).status_code

        # Each attempt claims another client: only a trusted proxy's word counts.
        statuses = [await attempt(f"203.0.113.{n}") for n in range(1, 5)]
        assert statuses == ([401] * 4 if trusted else [401, 401, 429, 429])
        if trusted:  # one client is limited however many proxies (and forged hops) it comes through
            hops = [await attempt(f"198.51.100.7, 203.0.113.{n}, 10.0.0.1") for n in range(10, 13)]
            assert hops == [401, 401, 401]  # 203.0.113.n is the first untrusted hop from the right
            repeated = [await attempt("198.51.100.9, 192.0.2.44") for _ in range(3)]
            assert repeated == [401, 401, 429]


def _request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 5000)})


def test_client_address_reads_forwarded_hops_from_the_right_past_trusted_proxies() -> None:
    proxies = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]
    assert client_address(_request("203.0.113.5", "1.2.3.4"), proxies) == "203.0.113.5"
    assert client_address(_request("10.0.0.2", "1.2.3.4, 10.0.0.9"), proxies) == "1.2.3.4"
    assert client_address(_request("10.0.0.2", "6.6.6.6, 1.2.3.4", "10.1.1.1"), proxies) == "1.2.3.4"
    assert client_address(_request("10.0.0.2", "not-an-ip, 10.0.0.3"), proxies) == "10.0.0.3"
    assert client_address(_request("10.0.0.2"), proxies) == "10.0.0.2"
    assert client_address(_request("::1", "2001:db8::7"), proxies) == "2001:db8::7"
    assert client_address(_request("10.0.0.2", "1.2.3.4"), []) == "10.0.0.2"
