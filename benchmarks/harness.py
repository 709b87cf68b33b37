"""What every benchmark needs: waiting for a service it started to report SERVING."""

from __future__ import annotations

import asyncio
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["wait_serving"]


async def wait_serving(target: grpc.aio.Channel | str, service: str = "", timeout: float = 60.0) -> None:
    """Polls grpc.health.v1 on ``target`` (a channel or an address) until ``service`` is SERVING."""
    if isinstance(target, str):
        async with grpc.aio.insecure_channel(target) as channel:
            await wait_serving(channel, service, timeout)
        return
    stub = health_pb2_grpc.HealthStub(target)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{service or 'the service'} did not report SERVING within {timeout:.0f}s")
