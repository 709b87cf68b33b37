"""A tarpitting mail server (its banner held far longer than a domain may take) does not hold a
batch: its addresses are unknown with the reason and a retry time, the other domains are decided,
and the server is not tried again by the next batch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.verifier.v1 import verifier_service_pb2 as pb
from services.demo_world.tarpit import TarpitServer
from tests.services.verifier.conftest import VerifierFactory
from tests.services.verifier.mailservers import LoopbackDns, MailFarm

TARPIT_ADDRESS = "127.0.0.60"


@pytest_asyncio.fixture
async def tarpit(farm: MailFarm, dns_server: LoopbackDns) -> AsyncIterator[TarpitServer]:
    server = await TarpitServer(TARPIT_ADDRESS, farm.port, banner_delay=60).start()
    dns_server.records["mx-tarpit.lmtest"] = {"A": [TARPIT_ADDRESS]}
    dns_server.records["tarpit-corp.com"] = {"MX": ["10 mx-tarpit.lmtest."]}
    yield server
    del dns_server.records["tarpit-corp.com"], dns_server.records["mx-tarpit.lmtest"]
    await server.stop()


async def verify(stub: object, *emails: str) -> dict[str, common.EmailVerdict]:
    request = pb.VerifyBatchRequest(
        items=[pb.VerifyBatchItem(index=n, email=email) for n, email in enumerate(emails)],
        options=pb.VerifyOptions(refresh=True),
    )
    return {r.verdict.email: r.verdict async for r in stub.VerifyBatch(request, timeout=30)}  # type: ignore[attr-defined]


async def test_a_tarpit_is_unknown_with_reason_and_retry_time_and_left_alone(
    start_verifier: VerifierFactory, tarpit: TarpitServer
) -> None:
    # The server's own timeouts (20 s) would hold the batch; the domain's budget is 0.5 s.
    stub = (
        await start_verifier(
            verifier_domain_budget=0.5,
            verifier_connect_timeout=20.0,
            verifier_command_timeout=20.0,
            verifier_retry_after=600.0,
            verifier_mx_rate=1_000_000.0,  # (the budget grows with the RCPTs' time at this pace)
        )
    ).stub
    first = await verify(stub, "pat@tarpit-corp.com", "alice@acme-corp.com")
    assert first["alice@acme-corp.com"].status == common.EMAIL_STATUS_VALID
    held = first["pat@tarpit-corp.com"]
    assert held.status == common.EMAIL_STATUS_UNKNOWN
    assert "did not finish within the 0.5 s the domain may take" in held.reason, held.reason
    assert held.retry_after.seconds == 600
    assert tarpit.connections == 1

    second = await verify(stub, "sam@tarpit-corp.com")
    again = second["sam@tarpit-corp.com"]
    assert again.status == common.EMAIL_STATUS_UNKNOWN and "not tried again" in again.reason
    assert tarpit.connections == 1  # remembered: the next batch did not wait for it again
