"""One caller cannot exhaust a gRPC server: calls beyond ``max_concurrent_rpcs`` and messages over
the service's size limit are refused with RESOURCE_EXHAUSTED, over loopback against real servers."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from libs.grpc_server import MESSAGE_LIMITS, GrpcServer, MessageLimits
from libs.mongo import Document
from services.billing.app import create_server
from services.billing.settings import BillingSettings
from tests import grpc_callers
from tests.libs.test_grpc_server import SERVICE, add_probe

BIG = 64 * 1024 * 1024


async def test_a_call_beyond_the_concurrency_limit_is_resource_exhausted() -> None:
    server = GrpcServer("probe", "127.0.0.1:0", {SERVICE: add_probe}, grace=0.5, max_concurrent_rpcs=1)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING  # one call open
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            watch.cancel()
            await asyncio.sleep(0.1)
            checked = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            assert checked.status == health_pb2.HealthCheckResponse.SERVING  # the slot is free again
    finally:
        await server.stop()


async def test_a_message_over_the_services_limit_is_resource_exhausted(db: AsyncDatabase[Document]) -> None:
    service = await create_server(db, BillingSettings(shutdown_grace=0.5), "127.0.0.1:0")
    port = await service.start()
    try:
        options = [("grpc.max_send_message_length", BIG)]
        async with grpc_callers.channel(f"127.0.0.1:{port}", options=options) as channel:
            billing = billing_grpc.BillingServiceStub(channel)
            oversize = billing_pb.CreateAccountRequest(name="x" * (MESSAGE_LIMITS["billing"].receive + 1))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await billing.CreateAccount(oversize, timeout=10)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            small = await billing.CreateAccount(billing_pb.CreateAccountRequest(name="Acme"), timeout=10)
            assert small.account.account_id
    finally:
        await service.stop()


def test_every_service_has_limits_that_fit_its_largest_call() -> None:
    assert set(MESSAGE_LIMITS) == {
        "billing", "batch", "enrichment", "intent", "verifier", "providers", "scoring",
    }  # fmt: skip
    assert MESSAGE_LIMITS["billing"] == MessageLimits(4 * 1024 * 1024, 4 * 1024 * 1024)
    assert MESSAGE_LIMITS["batch"].receive == 1024 * 1024  # CreateJob's pieces are 64 KiB
    assert all(limits.receive <= BIG and limits.send <= BIG for limits in MESSAGE_LIMITS.values())
