"""What operators read about the queues: how long deliveries waited (consumer lag) and how many
messages are ready (queue depth), against the real RabbitMQ."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from leadmesh.batch.v1.batch_events_pb2 import ChunkReady
from libs.amqp import (
    EXCHANGE,
    PUBLISHED_AT_HEADER,
    Publisher,
    QueueSpec,
    connect,
    consume,
    declare_topology,
    publish_to_queue,
)
from libs.queue_depths import QueueDepths
from tests.metric_points import points_where
from tests.waiting import eventually

LAG = "leadmesh.messaging.consumer.lag"
DEPTH = "leadmesh.messaging.queue.depth"


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    conn = await connect(amqp_url)
    yield conn
    await conn.close()


@pytest.fixture
async def channel(connection: AbstractRobustConnection) -> AsyncIterator[AbstractChannel]:
    chan = await connection.channel()
    yield chan
    await chan.close()


def new_spec() -> QueueSpec:
    name = f"metrics.{uuid.uuid4().hex[:12]}"
    return QueueSpec(name, (f"{name}.ready",), max_attempts=1)


def lag_of(reader: InMemoryMetricReader, queue: str) -> Any:
    found = points_where(reader, LAG, {"messaging.destination.name": queue})
    assert len(found) <= 1
    return found[0] if found else None


def depth_of(reader: InMemoryMetricReader, queue: str) -> int | None:
    found = points_where(reader, DEPTH, {"messaging.destination.name": queue})
    assert len(found) <= 1, found
    return int(found[0].value) if found else None


async def test_a_consumer_records_how_long_each_delivery_waited_in_its_queue(
    connection: AbstractRobustConnection, channel: AbstractChannel, metric_reader: InMemoryMetricReader
) -> None:
    spec = new_spec()
    await declare_topology(channel, [spec])
    publisher = await Publisher.open(connection)
    try:
        for index in range(3):
            await publisher.publish(spec.routing_keys[0], ChunkReady(job_id="j", chunk_index=index))
    finally:
        await publisher.close()
    waited = 0.3
    await asyncio.sleep(waited)  # the messages sit in the queue at least this long
    received: list[AbstractIncomingMessage] = []

    async def handle(message: ChunkReady, incoming: AbstractIncomingMessage) -> None:
        received.append(incoming)

    consumer = await consume(channel, spec, ChunkReady, handle, prefetch=3)
    try:
        await eventually(lambda: len(received) == 3)
    finally:
        await consumer.cancel()

    assert all(m.timestamp is not None and PUBLISHED_AT_HEADER in m.headers for m in received)
    lag = lag_of(metric_reader, spec.name)
    assert lag is not None, f"no {LAG} recorded for {spec.name}"
    assert lag.count == 3
    assert lag.attributes["messaging.system"] == "rabbitmq"
    assert lag.min >= waited


async def test_lag_falls_back_to_the_amqp_timestamp_of_a_foreign_publisher(
    channel: AbstractChannel, metric_reader: InMemoryMetricReader
) -> None:
    spec = new_spec()
    await declare_topology(channel, [spec])
    exchange = await channel.get_exchange(EXCHANGE)
    message = ChunkReady(job_id="foreign")
    body, message_type = message.SerializeToString(), message.DESCRIPTOR.full_name
    for timestamp in (datetime.now(UTC) - timedelta(minutes=2), None):
        outgoing = aio_pika.Message(body, type=message_type, timestamp=timestamp)
        await exchange.publish(outgoing, spec.routing_keys[0])
    received: list[ChunkReady] = []

    async def handle(decoded: ChunkReady, incoming: AbstractIncomingMessage) -> None:
        received.append(decoded)

    consumer = await consume(channel, spec, ChunkReady, handle, prefetch=2)
    try:
        await eventually(lambda: len(received) == 2)
    finally:
        await consumer.cancel()

    lag = lag_of(metric_reader, spec.name)
    assert lag is not None
    assert lag.count == 1, "a message without a time has no lag to record"
    assert 115 <= lag.min <= 240


async def test_lag_of_a_message_back_from_a_delay_queue_counts_from_its_dead_lettering(
    channel: AbstractChannel, metric_reader: InMemoryMetricReader
) -> None:
    spec = new_spec()
    await declare_topology(channel, [spec])
    ttl_seconds = 3
    delay = await channel.declare_queue(
        f"{spec.name}.delay",
        durable=True,
        arguments={
            "x-message-ttl": ttl_seconds * 1000,
            "x-dead-letter-exchange": EXCHANGE,
            "x-dead-letter-routing-key": spec.routing_keys[0],
        },
    )
    received: list[AbstractIncomingMessage] = []

    async def handle(message: ChunkReady, incoming: AbstractIncomingMessage) -> None:
        received.append(incoming)

    consumer = await consume(channel, spec, ChunkReady, handle, prefetch=1)
    try:
        await publish_to_queue(channel, delay.name, ChunkReady(job_id="later"))
        await eventually(lambda: len(received) == 1, within=ttl_seconds + 10)
    finally:
        await consumer.cancel()

    assert "x-death" in received[0].headers
    lag = lag_of(metric_reader, spec.name)
    assert lag is not None and lag.count == 1
    # Counted from the publish, it would be at least the TTL; the death time has whole seconds.
    assert lag.max < ttl_seconds


async def test_queue_depths_report_the_messages_ready_until_stopped(
    connection: AbstractRobustConnection, channel: AbstractChannel, metric_reader: InMemoryMetricReader
) -> None:
    spec = new_spec()
    await declare_topology(channel, [spec])
    for index in range(3):
        await publish_to_queue(channel, spec.name, ChunkReady(job_id="j", chunk_index=index))
    missing = f"metrics.missing.{uuid.uuid4().hex[:12]}"
    depths = QueueDepths(connection, [missing, spec.name], interval=0.05)
    await depths.start()
    try:
        assert depth_of(metric_reader, spec.name) == 3
        assert depth_of(metric_reader, missing) is None, "a queue that cannot be read has no depth"
        for index in range(2):
            await publish_to_queue(channel, spec.name, ChunkReady(job_id="j", chunk_index=3 + index))
        await eventually(lambda: depth_of(metric_reader, spec.name) == 5)
    finally:
        await depths.stop()
    assert depth_of(metric_reader, spec.name) is None, "a stopped gauge still reports"
