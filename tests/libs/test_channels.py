"""libs.channels: one channel per target, request id and trace context carried, deadlines always."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from libs.channels import ChannelPool, downstream_timeout
from libs.grpc_server import GrpcServer
from libs.jsonlog import request_id_var
from libs.telemetry import current_trace_id, setup_tracing

SERVICE = "leadmesh.test.v1.Downstream"


async def record(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    """What the server saw: the call's metadata, its span's trace id and its request id."""
    metadata = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
    seen = {"metadata": metadata, "trace_id": current_trace_id(), "request_id": request_id_var.get()}
    return json.dumps(seen).encode()


async def sleep(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    await asyncio.sleep(float(request.decode()))
    return b"awake"


async def budget(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    values = {
        "generous_cap": downstream_timeout(context, 30.0),
        "tight_cap": downstream_timeout(context, 0.3),
    }
    return json.dumps(values).encode()


async def record_stream_in(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
) -> bytes:
    async for _ in requests:
        pass
    return await record(b"", context)


async def record_stream_out(
    request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    yield await record(b"", context)


async def record_both(
    requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    async for _ in requests:
        pass
    yield await record(b"", context)


def add_downstream(server: grpc.aio.Server) -> None:
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Record": grpc.unary_unary_rpc_method_handler(record),
            "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
            "Budget": grpc.unary_unary_rpc_method_handler(budget),
            "RecordStreamIn": grpc.stream_unary_rpc_method_handler(record_stream_in),
            "RecordStreamOut": grpc.unary_stream_rpc_method_handler(record_stream_out),
            "RecordBoth": grpc.stream_stream_rpc_method_handler(record_both),
        },
    )
    server.add_generic_rpc_handlers((handler,))


@pytest.fixture(scope="module", autouse=True)
def tracing() -> None:
    # One SDK provider per process: reuse one another test module installed.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        setup_tracing("tests", None)
    assert isinstance(trace.get_tracer_provider(), TracerProvider)


@pytest.fixture(scope="module")
async def target() -> AsyncIterator[str]:
    server = GrpcServer(
        name="downstream", address="127.0.0.1:0", services={SERVICE: add_downstream}, grace=0.5
    )
    port = await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop()


@pytest.fixture
async def pool() -> AsyncIterator[ChannelPool]:
    channels = ChannelPool(default_timeout=2.0)
    yield channels
    await channels.close()


@pytest.fixture
def request_id() -> Iterator[str]:
    token = request_id_var.set("req-test-42")
    try:
        yield "req-test-42"
    finally:
        request_id_var.reset(token)


async def call_record(pool: ChannelPool, target: str, **kwargs: Any) -> dict[str, Any]:
    raw = await pool.get(target).unary_unary(f"/{SERVICE}/Record")(b"", **kwargs)
    seen: dict[str, Any] = json.loads(raw)
    return seen


async def test_one_channel_per_target(pool: ChannelPool, target: str) -> None:
    channel = pool.get(target)
    assert pool.get(target) is channel
    assert pool.get("127.0.0.1:1") is not channel


async def test_a_closed_pool_hands_out_fresh_working_channels(target: str) -> None:
    channels = ChannelPool(default_timeout=2.0)
    first = channels.get(target)
    await channels.close()
    second = channels.get(target)
    try:
        assert second is not first
        assert await second.unary_unary(f"/{SERVICE}/Sleep")(b"0", timeout=2.0) == b"awake"
    finally:
        await channels.close()


async def test_calls_carry_the_request_id(pool: ChannelPool, target: str, request_id: str) -> None:
    seen = await call_record(pool, target)
    assert seen["metadata"]["x-request-id"] == request_id
    # The server's logging context picks it up, so both sides log the same id.
    assert seen["request_id"] == request_id


async def test_a_request_id_given_by_the_caller_is_kept(
    pool: ChannelPool, target: str, request_id: str
) -> None:
    seen = await call_record(pool, target, metadata=(("x-request-id", "explicit-7"),))
    assert seen["metadata"]["x-request-id"] == "explicit-7"


async def test_no_request_id_is_invented_on_the_client(pool: ChannelPool, target: str) -> None:
    assert request_id_var.get() == ""
    seen = await call_record(pool, target)
    assert "x-request-id" not in seen["metadata"]
    assert seen["request_id"], "the server should still give the call an id of its own"


async def test_calls_inside_a_span_carry_traceparent_and_the_server_joins_the_trace(
    pool: ChannelPool, target: str
) -> None:
    with trace.get_tracer("tests").start_as_current_span("caller") as span:
        seen = await call_record(pool, target)
    trace_id = format(span.get_span_context().trace_id, "032x")
    span_id = format(span.get_span_context().span_id, "016x")
    traceparent = seen["metadata"]["traceparent"]
    version, sent_trace_id, parent_span_id, _flags = traceparent.split("-")
    assert version == "00"
    assert sent_trace_id == trace_id
    assert parent_span_id == span_id
    assert seen["trace_id"] == trace_id


async def test_streaming_calls_carry_trace_context_request_id_and_a_deadline(
    pool: ChannelPool, target: str, request_id: str
) -> None:
    """grpc.aio files an interceptor under one call type only: each type must be covered."""
    channel = pool.get(target)

    async def pieces() -> AsyncIterator[bytes]:
        yield b"a"
        yield b"b"

    with trace.get_tracer("tests").start_as_current_span("caller") as span:
        answers = [
            await channel.stream_unary(f"/{SERVICE}/RecordStreamIn")(pieces()),
            *[r async for r in channel.unary_stream(f"/{SERVICE}/RecordStreamOut")(b"")],
            *[r async for r in channel.stream_stream(f"/{SERVICE}/RecordBoth")(pieces())],
        ]
    trace_id = format(span.get_span_context().trace_id, "032x")
    for raw in answers:
        seen = json.loads(raw)
        assert seen["trace_id"] == trace_id
        assert seen["metadata"]["x-request-id"] == request_id


async def test_a_stream_without_timeout_gets_the_pools_default(target: str) -> None:
    channels = ChannelPool(default_timeout=0.2)

    async def slow() -> AsyncIterator[bytes]:
        yield b"a"
        await asyncio.sleep(1.0)
        yield b"b"

    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channels.get(target).stream_unary(f"/{SERVICE}/RecordStreamIn")(slow())
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        await channels.close()


async def test_a_call_outside_a_span_starts_a_new_trace_on_the_server(pool: ChannelPool, target: str) -> None:
    assert current_trace_id() == ""
    first = await call_record(pool, target)
    second = await call_record(pool, target)
    assert "traceparent" not in first["metadata"]
    assert len(first["trace_id"]) == 32
    assert first["trace_id"] != second["trace_id"]


async def test_a_call_without_timeout_gets_the_pools_default(target: str) -> None:
    channels = ChannelPool(default_timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channels.get(target).unary_unary(f"/{SERVICE}/Sleep")(b"1.0")
        elapsed = time.monotonic() - started
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert elapsed < 0.8
    finally:
        await channels.close()


async def test_an_explicit_timeout_overrides_the_pools_default(target: str) -> None:
    channels = ChannelPool(default_timeout=0.2)
    try:
        reply = await channels.get(target).unary_unary(f"/{SERVICE}/Sleep")(b"0.4", timeout=2.0)
        assert reply == b"awake"
    finally:
        await channels.close()


async def test_downstream_timeout_never_exceeds_what_the_caller_has_left(
    pool: ChannelPool, target: str
) -> None:
    raw = await pool.get(target).unary_unary(f"/{SERVICE}/Budget")(b"", timeout=1.0)
    values = json.loads(raw)
    assert 0.5 < values["generous_cap"] <= 1.0
    assert values["tight_cap"] == pytest.approx(0.3)


async def test_downstream_timeout_outside_a_call_is_the_cap() -> None:
    assert downstream_timeout(None, 0.3) == 0.3
