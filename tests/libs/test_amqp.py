"""libs.amqp against the real RabbitMQ, in a throw-away vhost of its own."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection, DeliveryMode
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from leadmesh.batch.v1.batch_events_pb2 import ChunkReady
from libs.amqp import (
    ATTEMPT_HEADER,
    CONTENT_TYPE,
    DEAD_LETTER_EXCHANGE,
    EXCHANGE,
    ROUTING_KEY_HEADER,
    Publisher,
    PublishError,
    QueueSpec,
    connect,
    consume,
    declare_topology,
    queue_depth,
)
from libs.telemetry import export_spans, setup_tracing
from tests.waiting import eventually

Received = list[tuple[ChunkReady, AbstractIncomingMessage]]


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True).stdout


def listing(vhost: str, command: str, *columns: str) -> list[dict[str, Any]]:
    output = rabbitmqctl(command, "-p", vhost, *columns, "--formatter", "json")
    rows: list[dict[str, Any]] = json.loads(output)
    return rows


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    name = f"leadmesh-test-{uuid.uuid4().hex}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        rabbitmqctl("delete_vhost", name)


@pytest.fixture(scope="module")
async def connection(vhost: str) -> AsyncIterator[AbstractRobustConnection]:
    conn = await connect(f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}")
    yield conn
    await conn.close()


@pytest.fixture
async def channel(connection: AbstractRobustConnection) -> AsyncIterator[AbstractChannel]:
    chan = await connection.channel()
    yield chan
    await chan.close()


@pytest.fixture
async def publisher(connection: AbstractRobustConnection) -> AsyncIterator[Publisher]:
    pub = await Publisher.open(connection, timeout=5.0)
    yield pub
    await pub.close()


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    setup_tracing("amqp-test", None)
    exporter = InMemorySpanExporter()
    export_spans(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture
def spec() -> QueueSpec:
    name = f"test.{uuid.uuid4().hex[:12]}"
    return QueueSpec(name=name, routing_keys=(f"{name}.created",), max_attempts=3)


def chunk(index: int = 7) -> ChunkReady:
    return ChunkReady(job_id="job-1", account_id="acct-1", chunk_index=index, first_row=1, row_count=500)


def collecting(received: Received) -> Callable[[ChunkReady, AbstractIncomingMessage], Awaitable[None]]:
    async def handler(message: ChunkReady, incoming: AbstractIncomingMessage) -> None:
        received.append((message, incoming))

    return handler


async def test_topology_is_durable_with_a_dead_letter_queue(channel: AbstractChannel, vhost: str) -> None:
    name = f"test.{uuid.uuid4().hex[:12]}"
    spec = QueueSpec(name=name, routing_keys=("a.created", "b.*"), message_ttl_ms=60_000)
    await declare_topology(channel, [spec])

    exchanges = {e["name"]: e for e in listing(vhost, "list_exchanges", "name", "type", "durable")}
    assert exchanges[EXCHANGE] == {"name": EXCHANGE, "type": "topic", "durable": True}
    assert exchanges[DEAD_LETTER_EXCHANGE] == {"name": DEAD_LETTER_EXCHANGE, "type": "topic", "durable": True}

    queues = {q["name"]: q for q in listing(vhost, "list_queues", "name", "durable", "arguments", "type")}
    main, dead = queues[name], queues[f"{name}.dead"]
    assert main["durable"] and dead["durable"]
    assert main["type"] == dead["type"] == "classic"
    arguments = {key: value for key, _type, value in main["arguments"]}
    assert arguments["x-dead-letter-exchange"] == DEAD_LETTER_EXCHANGE
    assert arguments["x-message-ttl"] == 60_000

    bindings = {
        (b["source_name"], b["destination_name"], b["routing_key"])
        for b in listing(vhost, "list_bindings", "source_name", "destination_name", "routing_key")
    }
    assert {(EXCHANGE, name, "a.created"), (EXCHANGE, name, "b.*")} <= bindings
    assert (DEAD_LETTER_EXCHANGE, f"{name}.dead", name) in bindings

    await declare_topology(channel, [spec])  # idempotent


async def test_published_message_is_consumed_decoded_and_acked(
    connection: AbstractRobustConnection, publisher: Publisher, spec: QueueSpec
) -> None:
    received: Received = []
    channel = await connection.channel()
    consumer = await consume(channel, spec, ChunkReady, collecting(received), prefetch=4)

    await publisher.publish(spec.routing_keys[0], chunk(), message_id="chunk-7", headers={"x-tenant": "a1"})
    await eventually(lambda: received and received[0][1].processed)  # handled and acked

    message, incoming = received[0]
    assert message == chunk()
    assert incoming.type == "leadmesh.batch.v1.ChunkReady"
    assert incoming.content_type == CONTENT_TYPE
    assert incoming.delivery_mode == DeliveryMode.PERSISTENT
    assert incoming.message_id == "chunk-7"
    assert incoming.headers["x-tenant"] == "a1"

    # Acked: closing the consumer's channel does not put the message back.
    await consumer.cancel()
    await channel.close()
    async with await connection.channel() as check:
        assert await queue_depth(check, spec.name) == 0
        assert await queue_depth(check, f"{spec.name}.dead") == 0
    assert len(received) == 1


async def test_trace_context_crosses_the_broker(
    channel: AbstractChannel, publisher: Publisher, spec: QueueSpec, spans: InMemorySpanExporter
) -> None:
    seen: list[int] = []

    async def handler(message: ChunkReady, incoming: AbstractIncomingMessage) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    await consume(channel, spec, ChunkReady, handler, prefetch=1)
    with trace.get_tracer("test").start_as_current_span("request") as request:
        await publisher.publish(spec.routing_keys[0], chunk())
    await eventually(lambda: seen)

    trace_id = request.get_span_context().trace_id
    assert seen == [trace_id]
    await eventually(lambda: any(s.name == f"process {spec.name}" for s in spans.get_finished_spans()))
    by_name = {s.name: s for s in spans.get_finished_spans() if s.context and s.context.trace_id == trace_id}
    publish, process = by_name[f"publish {spec.routing_keys[0]}"], by_name[f"process {spec.name}"]
    assert process.kind == trace.SpanKind.CONSUMER
    assert publish.context is not None and process.parent is not None
    assert process.parent.span_id == publish.context.span_id


async def test_failing_handler_is_retried_until_it_succeeds(
    channel: AbstractChannel, publisher: Publisher, spec: QueueSpec
) -> None:
    attempts: list[object] = []

    async def flaky(message: ChunkReady, incoming: AbstractIncomingMessage) -> None:
        attempts.append(incoming.headers.get(ATTEMPT_HEADER, 1))
        if len(attempts) < 2:
            raise RuntimeError("transient")

    await consume(channel, spec, ChunkReady, flaky, prefetch=1)
    await publisher.publish(spec.routing_keys[0], chunk())
    await eventually(lambda: len(attempts) == 2)

    await eventually(lambda: _empty(channel, spec.name))
    assert attempts == [1, 2]
    assert await queue_depth(channel, f"{spec.name}.dead") == 0


async def test_always_failing_handler_dead_letters_after_max_attempts(
    channel: AbstractChannel, publisher: Publisher, spec: QueueSpec
) -> None:
    calls: list[ChunkReady] = []

    async def broken(message: ChunkReady, incoming: AbstractIncomingMessage) -> None:
        calls.append(message)
        raise RuntimeError("always")

    consumer = await consume(channel, spec, ChunkReady, broken, prefetch=1)
    await publisher.publish(spec.routing_keys[0], chunk(), message_id="doomed")
    await eventually(lambda: _has_messages(channel, f"{spec.name}.dead"))
    await consumer.cancel()

    assert len(calls) == spec.max_attempts == 3
    assert await queue_depth(channel, spec.name) == 0
    dead = await (await channel.get_queue(f"{spec.name}.dead")).get(timeout=5)
    assert ChunkReady.FromString(dead.body) == chunk()
    assert dead.message_id == "doomed"
    assert dead.type == "leadmesh.batch.v1.ChunkReady"
    assert dead.headers[ATTEMPT_HEADER] == 3
    assert dead.headers[ROUTING_KEY_HEADER] == spec.routing_keys[0]
    await dead.ack()


@pytest.mark.parametrize(
    ("message_type", "body"),
    [
        ("leadmesh.batch.v1.SomethingElse", chunk().SerializeToString()),
        ("leadmesh.batch.v1.ChunkReady", b"\xff\xff\xff"),
    ],
    ids=["wrong-type", "undecodable"],
)
async def test_bad_message_goes_straight_to_the_dead_letter_queue(
    channel: AbstractChannel, spec: QueueSpec, message_type: str, body: bytes
) -> None:
    received: Received = []
    await consume(channel, spec, ChunkReady, collecting(received), prefetch=1)

    exchange = await channel.get_exchange(EXCHANGE)
    await exchange.publish(aio_pika.Message(body, type=message_type), spec.routing_keys[0])
    await eventually(lambda: _has_messages(channel, f"{spec.name}.dead"))

    assert received == []
    assert await queue_depth(channel, spec.name) == 0


async def test_unroutable_publish_raises(publisher: Publisher) -> None:
    with pytest.raises(PublishError, match="unroutable|refused"):
        await publisher.publish(f"nobody.listens.{uuid.uuid4().hex}", chunk())


async def _has_messages(channel: AbstractChannel, name: str) -> bool:
    return await queue_depth(channel, name) > 0


async def _empty(channel: AbstractChannel, name: str) -> bool:
    return await queue_depth(channel, name) == 0
