"""``python -m tests.libs.runner_probe``: a service run by the kit's runner as its own process, for
tests/libs/test_runner.py. Its one method (``Slow``) logs "call started" and answers after
``LEADMESH_PROBE_CALL_SECONDS``;
its two parts and its two closers log when they start, stop and close."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
from pydantic import Field
from pymongo.asynchronous.database import AsyncDatabase

from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping
from libs.runner import run
from libs.service import Service
from libs.settings import CommonSettings

SERVICE = "leadmesh.test.v1.Probe"
log = logging.getLogger("probe")


class ProbeSettings(CommonSettings):
    probe_addr: str = "127.0.0.1:0"
    probe_call_seconds: float = Field(default=1.0, ge=0)
    probe_drain_delay: float = Field(default=0.0, ge=0)


class LoggedPart:
    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self) -> None:
        log.info("part started", extra={"part": self.name})

    async def stop(self) -> None:
        log.info("part stopped", extra={"part": self.name})


def closer(name: str) -> Any:
    async def close() -> None:
        log.info("closed", extra={"closer": name})

    return close


async def build(db: AsyncDatabase[Document], settings: ProbeSettings) -> Service:
    async def slow(request: bytes, context: Any) -> bytes:
        log.info("call started")
        await asyncio.sleep(settings.probe_call_seconds)
        return request

    def add(server: grpc.aio.Server) -> None:
        handlers = {"Slow": grpc.unary_unary_rpc_method_handler(slow)}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))

    server = GrpcServer(
        name="probe",
        address=settings.probe_addr,
        services={SERVICE: add},
        readiness=[lambda: ping(db)],
        grace=settings.shutdown_grace,
        drain_delay=settings.probe_drain_delay,
    )
    return Service(
        server, parts=[LoggedPart("first"), LoggedPart("second")], closers=[closer("first"), closer("second")]
    )


if __name__ == "__main__":
    run("probe", ProbeSettings, build)
