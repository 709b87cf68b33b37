"""libs.grpc_server: health with real status, reflection, error mapping and graceful stop, over loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from libs.embedded_store import free_port
from libs.errors import FailedPrecondition, NotFound, error_from_rpc
from libs.grpc_server import LIVENESS_SERVICE, GrpcServer
from libs.jsonlog import method_var, request_id_var
from tests import grpc_callers
from tests.waiting import eventually

SERVICE = "leadmesh.test.v1.Probe"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return request


async def out_of_credits(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    raise FailedPrecondition("no credits", reason="INSUFFICIENT_CREDITS")


async def crash(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    raise RuntimeError("secret db password xyz")


async def stream_then_fail(
    request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    yield b"one"
    yield b"two"
    raise NotFound("lead vanished", reason="LEAD_NOT_FOUND")


async def stream_then_crash(
    request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    yield b"one"
    raise RuntimeError("secret db password xyz")


def add_probe(server: grpc.aio.Server) -> None:
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "OutOfCredits": grpc.unary_unary_rpc_method_handler(out_of_credits),
            "Crash": grpc.unary_unary_rpc_method_handler(crash),
            "StreamThenFail": grpc.unary_stream_rpc_method_handler(stream_then_fail),
            "StreamThenCrash": grpc.unary_stream_rpc_method_handler(stream_then_crash),
        },
    )
    server.add_generic_rpc_handlers((handler,))


class Readiness:
    """A readiness check the test flips between passing, failing and raising."""

    def __init__(self) -> None:
        self.outcome: bool | Exception = True

    async def __call__(self) -> bool:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
async def server(readiness: Readiness) -> AsyncIterator[GrpcServer]:
    srv = GrpcServer(
        name="probe",
        address="127.0.0.1:0",
        services={SERVICE: add_probe},
        readiness=[readiness],
        grace=1.0,
        check_interval=0.05,
    )
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def channel(server: GrpcServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as chan:
        yield chan


async def health_of(channel: grpc.aio.Channel, service: str) -> int:
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=2.0
    )
    status: int = response.status
    return status


async def test_health_is_serving_for_the_server_and_each_service(
    server: GrpcServer, channel: grpc.aio.Channel
) -> None:
    assert server.port > 0
    assert await health_of(channel, "") == SERVING
    assert await health_of(channel, SERVICE) == SERVING


async def test_health_follows_a_failing_then_recovering_readiness_check(
    readiness: Readiness, channel: grpc.aio.Channel
) -> None:
    async def all_are(status: int) -> bool:
        return all([await health_of(channel, name) == status for name in ("", SERVICE)])

    readiness.outcome = False
    await eventually(lambda: all_are(NOT_SERVING))
    readiness.outcome = True
    await eventually(lambda: all_are(SERVING))


async def test_a_raising_readiness_check_means_not_serving(
    readiness: Readiness, channel: grpc.aio.Channel
) -> None:
    readiness.outcome = ConnectionError("store unreachable")

    async def not_serving() -> bool:
        return await health_of(channel, SERVICE) == NOT_SERVING

    await eventually(not_serving)


async def test_liveness_ignores_readiness_and_ends_when_stopping(
    server: GrpcServer, readiness: Readiness, channel: grpc.aio.Channel
) -> None:
    readiness.outcome = ConnectionError("store unreachable")

    async def unready() -> bool:
        return await health_of(channel, SERVICE) == NOT_SERVING

    await eventually(unready)
    assert await health_of(channel, LIVENESS_SERVICE) == SERVING
    server.drain_delay = 0.5  # health still answers while the server drains
    stopping = asyncio.create_task(server.stop())

    async def not_alive() -> bool:
        return await health_of(channel, LIVENESS_SERVICE) == NOT_SERVING

    await eventually(not_alive)
    await stopping


async def test_a_server_whose_check_fails_at_start_is_not_serving_at_once() -> None:
    async def never_ready() -> bool:
        return False

    srv = GrpcServer(
        name="probe", address="127.0.0.1:0", services={SERVICE: add_probe}, readiness=[never_ready]
    )
    await srv.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{srv.port}") as chan:
            assert await health_of(chan, "") == NOT_SERVING
            assert await health_of(chan, SERVICE) == NOT_SERVING
            assert await health_of(chan, LIVENESS_SERVICE) == SERVING
    finally:
        await srv.stop()


async def test_reflection_lists_the_service_and_health(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def one_request() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names: set[str] = set()
    async for response in stub.ServerReflectionInfo(one_request(), timeout=2.0):
        names |= {s.name for s in response.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


async def test_a_domain_error_reaches_the_client_with_its_code_message_and_reason(
    channel: grpc.aio.Channel,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary(f"/{SERVICE}/OutOfCredits")(b"", timeout=2.0)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == "no credits"
    error = error_from_rpc(caught.value)
    assert isinstance(error, FailedPrecondition)
    assert error.reason == "INSUFFICIENT_CREDITS"
    assert error.message == "no credits"


async def test_an_unexpected_error_is_internal_without_its_text(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await channel.unary_unary(f"/{SERVICE}/Crash")(b"", timeout=2.0)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    details = caught.value.details() or ""
    assert "secret" not in details
    assert "xyz" not in details
    assert "RuntimeError" not in details
    assert "Traceback" not in details
    assert error_from_rpc(caught.value).reason == "INTERNAL"


class _Lines(logging.Handler):
    """The rpc log lines with the method and request id they are written under."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[int, str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "rpc":
            assert isinstance(getattr(record, "duration_ms", None), float)
            self.lines.append(
                (record.levelno, getattr(record, "code", ""), method_var.get(), request_id_var.get())
            )


async def test_each_call_logs_one_line_with_its_code_method_and_the_callers_request_id(
    channel: grpc.aio.Channel,
) -> None:
    rpc_log, lines = logging.getLogger("leadmesh.rpc"), _Lines()
    level = rpc_log.level
    rpc_log.addHandler(lines)
    rpc_log.setLevel(logging.INFO)
    try:
        await channel.unary_unary(f"/{SERVICE}/Echo")(b"", timeout=2.0, metadata=(("x-request-id", "req-1"),))
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary(f"/{SERVICE}/OutOfCredits")(b"", timeout=2.0)

        async def both_logged() -> bool:  # an aborted call's status reaches the client first
            return len(lines.lines) == 2

        await eventually(both_logged)
    finally:
        rpc_log.removeHandler(lines)
        rpc_log.setLevel(level)
    (ok, failed) = lines.lines
    assert ok == (logging.INFO, "OK", f"/{SERVICE}/Echo", "req-1")
    assert failed[:3] == (logging.WARNING, "FAILED_PRECONDITION", f"/{SERVICE}/OutOfCredits")
    assert len(failed[3]) == 32  # no id from the caller: one is made for the call


async def test_the_server_still_answers_after_errors(channel: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await channel.unary_unary(f"/{SERVICE}/Crash")(b"", timeout=2.0)
    assert await channel.unary_unary(f"/{SERVICE}/Echo")(b"ping", timeout=2.0) == b"ping"


async def test_a_domain_error_mid_stream_keeps_the_messages_sent_and_maps_the_same_way(
    channel: grpc.aio.Channel,
) -> None:
    received: list[bytes] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for message in channel.unary_stream(f"/{SERVICE}/StreamThenFail")(b"", timeout=2.0):
            received.append(message)
    assert received == [b"one", b"two"]
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "lead vanished"
    assert error_from_rpc(caught.value).reason == "LEAD_NOT_FOUND"


async def test_an_unexpected_error_mid_stream_is_internal_without_its_text(channel: grpc.aio.Channel) -> None:
    received: list[bytes] = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for message in channel.unary_stream(f"/{SERVICE}/StreamThenCrash")(b"", timeout=2.0):
            received.append(message)
    assert received == [b"one"]
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    details = caught.value.details() or ""
    assert "secret" not in details
    assert "xyz" not in details


async def test_stopping_reports_not_serving_while_draining_then_refuses_calls() -> None:
    srv = GrpcServer(
        name="probe",
        address="127.0.0.1:0",
        services={SERVICE: add_probe},
        grace=0.5,
        drain_delay=0.5,
        check_interval=0.05,
    )
    port = await srv.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
        assert await health_of(chan, SERVICE) == SERVING
        stopping = asyncio.create_task(srv.stop())

        async def not_serving() -> bool:
            return [await health_of(chan, name) for name in ("", SERVICE)] == [NOT_SERVING] * 2

        await eventually(not_serving)
        assert not stopping.done(), "stop() returned before the drain delay elapsed"
        # Still draining: in-flight and new calls are answered until the server stops.
        assert await chan.unary_unary(f"/{SERVICE}/Echo")(b"late", timeout=1.0) == b"late"
        await asyncio.wait_for(stopping, 3.0)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await chan.unary_unary(f"/{SERVICE}/Echo")(b"gone", timeout=1.0)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_stop_waits_for_the_drained_work_after_the_calls_under_way() -> None:
    order: list[str] = []
    under_way = asyncio.Event()

    async def slow_echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        under_way.set()
        await asyncio.sleep(0.2)
        order.append("call")
        return request

    async def background() -> None:
        order.append("drained")

    def add(server: grpc.aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            SERVICE, {"Slow": grpc.unary_unary_rpc_method_handler(slow_echo)}
        )
        server.add_generic_rpc_handlers((handler,))

    srv = GrpcServer(
        name="probe", address="127.0.0.1:0", services={SERVICE: add}, grace=2.0, drained=[background]
    )
    port = await srv.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
        call = asyncio.ensure_future(chan.unary_unary(f"/{SERVICE}/Slow")(b"x", timeout=3.0))
        await asyncio.wait_for(under_way.wait(), 5)
        await srv.stop()
        assert await call == b"x"
    assert order == ["call", "drained"]


async def test_starting_on_a_port_in_use_raises_naming_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        srv = GrpcServer(name="probe", address=address, services={SERVICE: add_probe})
        with pytest.raises(RuntimeError, match=address):
            await srv.start()


async def test_billing_process_serves_then_exits_cleanly_on_sigterm(
    mongo_uri: str, repo_root: Path, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADMESH_", "OTEL_"))}
    env |= grpc_callers.caller_env() | {
        "LEADMESH_BILLING_ADDR": address,
        "LEADMESH_MONGODB_URI": mongo_uri,
        "LEADMESH_MONGODB_DATABASE": f"t_{uuid.uuid4().hex[:12]}",
    }
    stderr_path = tmp_path / "billing.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.billing"],
            cwd=repo_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        async with grpc.aio.insecure_channel(address) as chan:

            async def billing_serving() -> bool:
                assert process.poll() is None, stderr_path.read_text()
                try:
                    return await health_of(chan, "leadmesh.billing.v1.BillingService") == SERVING
                except grpc.aio.AioRpcError:
                    return False

            await eventually(billing_serving, within=20.0, explain=stderr_path.read_text)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 5.0)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = stderr_path.read_text()
    assert code == 0, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "billing logged nothing"
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        assert entry["service"] == "billing", line
    messages = [json.loads(line)["message"] for line in lines]
    assert "stop requested" in messages
    assert "stopped" in messages
