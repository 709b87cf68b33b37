"""The shared AMQP kit: topology, a confirming publisher and a retrying consumer of protobuf messages.

Messages go through the durable topic exchange ``leadmesh``: the body is one serialized protobuf
message, the AMQP ``type`` its full proto name, the headers carry the W3C trace context. A failed
handler's message is republished to its queue with ``x-leadmesh-attempt`` counted up; after
``max_attempts`` it is rejected and dead-lettered through ``leadmesh.dlx`` into ``<queue>.dead``.
Queues dead-letter under their own name (``x-dead-letter-routing-key``), the key ``<queue>.dead``
is bound with, so a retried message (republished under the queue name) still gets there and a
dead letter never reaches the ``.dead`` queue of another consumer of the same routing key.

Every message is stamped when it is published (the AMQP ``timestamp``, in whole seconds, and
``x-leadmesh-published-ms``); a consumer records how long each delivery waited in its queue as
the histogram ``leadmesh.messaging.consumer.lag``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aio_pika
import aio_pika.exceptions
import aiormq.abc
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
    ConsumerTag,
    DeliveryMode,
    ExchangeType,
    FieldValue,
)
from google.protobuf.message import DecodeError, Message
from opentelemetry.trace import SpanKind, Status, StatusCode

from libs.errors import Unavailable
from libs.telemetry import extract_context, inject_headers, meter, tracer

__all__ = [
    "ATTEMPT_HEADER",
    "CONTENT_TYPE",
    "DEAD_LETTER_EXCHANGE",
    "EXCHANGE",
    "PUBLISHED_AT_HEADER",
    "ROUTING_KEY_HEADER",
    "Consumer",
    "PublishError",
    "Publisher",
    "QueueSpec",
    "connect",
    "consume",
    "declare_topology",
    "publish_to_queue",
    "queue_depth",
]

EXCHANGE = "leadmesh"
DEAD_LETTER_EXCHANGE = "leadmesh.dlx"
CONTENT_TYPE = "application/x-protobuf"
ATTEMPT_HEADER = "x-leadmesh-attempt"
ROUTING_KEY_HEADER = "x-leadmesh-routing-key"
# Milliseconds since the epoch when the message was published (``timestamp`` has whole seconds).
PUBLISHED_AT_HEADER = "x-leadmesh-published-ms"
PUBLISH_TIMEOUT = 10.0

M = TypeVar("M", bound=Message)
Handler = Callable[[M, AbstractIncomingMessage], Awaitable[None]]

log = logging.getLogger(__name__)

_CONSUMER_LAG = meter("leadmesh.amqp").create_histogram(
    "leadmesh.messaging.consumer.lag",
    unit="s",
    description="Time a delivery waited in its queue before a consumer took it, by queue",
    explicit_bucket_boundaries_advisory=[0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
)


class PublishError(Unavailable):
    """The broker did not take a message: nacked, returned as unroutable, or no confirm in time."""

    default_reason = "PUBLISH_FAILED"


@dataclass(frozen=True)
class QueueSpec:
    """A durable queue bound to ``leadmesh`` with ``routing_keys``, and its ``<name>.dead`` queue."""

    name: str
    routing_keys: tuple[str, ...]
    max_attempts: int = 5
    message_ttl_ms: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead"

    def arguments(self) -> dict[str, Any]:
        """The ``x-`` arguments of the main queue (the queue type is left classic)."""
        args: dict[str, Any] = {
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.name,
        }
        if self.message_ttl_ms is not None:
            args["x-message-ttl"] = self.message_ttl_ms
        return args


async def connect(url: str, *, timeout: float = 10.0) -> AbstractRobustConnection:
    """A robust connection: it reconnects and restores channels, queues and consumers by itself."""
    return await aio_pika.connect_robust(url, timeout=timeout)


async def declare_topology(channel: AbstractChannel, queues: Iterable[QueueSpec]) -> None:
    """Declare both exchanges and every queue with its bindings and dead-letter queue (idempotent)."""
    await _declare(channel, queues)


async def _declare(channel: AbstractChannel, queues: Iterable[QueueSpec]) -> list[AbstractQueue]:
    exchange = await channel.declare_exchange(EXCHANGE, ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, ExchangeType.TOPIC, durable=True)
    declared = []
    for spec in queues:
        dead = await channel.declare_queue(spec.dead_letter_queue, durable=True)
        await dead.bind(dlx, routing_key=spec.name)
        queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments())
        for routing_key in spec.routing_keys:
            await queue.bind(exchange, routing_key=routing_key)
        declared.append(queue)
    return declared


async def queue_depth(channel: AbstractChannel, name: str) -> int:
    """Messages ready in queue ``name`` now (a missing queue closes the channel with NOT_FOUND)."""
    underlay = await channel.get_underlay_channel()
    declared = await underlay.queue_declare(name, passive=True)
    return int(declared.message_count or 0)


async def _publish_confirmed(
    exchange: AbstractExchange, message: aio_pika.Message, routing_key: str, timeout: float
) -> None:
    """Publish as mandatory and wait for the broker's confirm; anything but an ack is a PublishError."""
    where = f"exchange {exchange.name or '(default)'!r}, routing key {routing_key!r}"
    try:
        result = await exchange.publish(message, routing_key, mandatory=True, timeout=timeout)
    except (aio_pika.exceptions.DeliveryError, aio_pika.exceptions.PublishError) as exc:
        raise PublishError(f"broker refused the message on {where}") from exc
    except TimeoutError as exc:
        raise PublishError(f"no broker confirm within {timeout}s on {where}; it may still arrive") from exc
    if isinstance(result, aiormq.abc.DeliveredMessage):
        raise PublishError(f"message is unroutable on {where}")


class Publisher:
    """Publishes protobuf messages to ``leadmesh`` on its own confirming channel."""

    def __init__(self, channel: AbstractChannel, exchange: AbstractExchange, timeout: float) -> None:
        self._channel = channel
        self._exchange = exchange
        self._timeout = timeout

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, *, timeout: float = PUBLISH_TIMEOUT
    ) -> Publisher:
        """Open a channel with publisher confirms and declare the exchange."""
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(EXCHANGE, ExchangeType.TOPIC, durable=True)
        return cls(channel, exchange, timeout)

    async def publish(
        self,
        routing_key: str,
        message: Message,
        *,
        message_id: str | None = None,
        headers: Mapping[str, FieldValue] | None = None,
    ) -> None:
        """Publish ``message`` persistently and wait for the confirm; raise PublishError otherwise."""
        await _publish_traced(self._exchange, routing_key, message, message_id, headers, self._timeout)

    async def close(self) -> None:
        await self._channel.close()


class Consumer:
    """A running consumer of one queue; ``cancel()`` stops deliveries (in-flight handlers finish)."""

    def __init__(self, queue: AbstractQueue, tag: ConsumerTag) -> None:
        self.queue = queue
        self.tag = tag

    async def cancel(self) -> None:
        await self.queue.cancel(self.tag)


async def consume(
    channel: AbstractChannel,
    spec: QueueSpec,
    message_type: type[M],
    handler: Handler[M],
    *,
    prefetch: int,
) -> Consumer:
    """Consume ``spec`` with manual acks and at most ``prefetch`` unacked messages on ``channel``.

    The topology of ``spec`` is declared first (idempotent), so a consumer may start before any
    publisher. A message of another ``type`` or with an undecodable body is dead-lettered at once.
    """
    (queue,) = await _declare(channel, [spec])
    await channel.set_qos(prefetch_count=prefetch)

    async def on_message(incoming: AbstractIncomingMessage) -> None:
        await _process(channel, spec, message_type, handler, incoming)

    return Consumer(queue, await queue.consume(on_message))


def _decode(incoming: AbstractIncomingMessage, message_type: type[M]) -> M | None:
    expected = message_type.DESCRIPTOR.full_name
    extra = {"message_type": incoming.type, "expected_type": expected, "message_id": incoming.message_id}
    if incoming.type != expected:
        log.error("Dead-lettering a message of an unexpected type", extra=extra)
        return None
    try:
        return message_type.FromString(incoming.body)
    except DecodeError:
        log.exception("Dead-lettering an undecodable message", extra=extra)
        return None


def _entered_queue_at(incoming: AbstractIncomingMessage) -> float | None:
    """When the delivery entered the queue it came from (epoch seconds): when it was published, or
    last dead-lettered (a delay queue's message comes back when its TTL runs out); None when the
    message carries no time."""
    published = incoming.headers.get(PUBLISHED_AT_HEADER)
    if isinstance(published, int) and not isinstance(published, bool):
        entered: float | None = published / 1000
    else:
        entered = incoming.timestamp.timestamp() if incoming.timestamp else None
    deaths = incoming.headers.get("x-death")
    for death in deaths if isinstance(deaths, list) else []:
        died = death.get("time") if isinstance(death, dict) else None
        if isinstance(died, datetime):
            entered = died.timestamp() if entered is None else max(entered, died.timestamp())
    return entered


def _record_lag(spec: QueueSpec, incoming: AbstractIncomingMessage) -> None:
    entered = _entered_queue_at(incoming)
    if entered is not None:
        attributes = {"messaging.system": "rabbitmq", "messaging.destination.name": spec.name}
        _CONSUMER_LAG.record(max(0.0, time.time() - entered), attributes)


def _attempt(incoming: AbstractIncomingMessage) -> int:
    value = incoming.headers.get(ATTEMPT_HEADER)
    return value if isinstance(value, int) and value > 0 else 1


async def _process(
    channel: AbstractChannel,
    spec: QueueSpec,
    message_type: type[M],
    handler: Handler[M],
    incoming: AbstractIncomingMessage,
) -> None:
    _record_lag(spec, incoming)
    decoded = _decode(incoming, message_type)
    if decoded is None:
        await incoming.reject(requeue=False)
        return
    attempt = _attempt(incoming)
    attributes: dict[str, str | int] = {
        "messaging.system": "rabbitmq",
        "messaging.destination.name": spec.name,
        "messaging.message.id": incoming.message_id or "",
        "leadmesh.attempt": attempt,
    }
    with tracer(__name__).start_as_current_span(
        f"process {spec.name}",
        context=extract_context(incoming.headers),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        try:
            await handler(decoded, incoming)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            await _retry_or_dead_letter(channel, spec, incoming, attempt)
            return
        if not incoming.processed:
            await incoming.ack()


async def _retry_or_dead_letter(
    channel: AbstractChannel, spec: QueueSpec, incoming: AbstractIncomingMessage, attempt: int
) -> None:
    """Republish with the attempt counted up, or reject into ``<queue>.dead`` after the last one."""
    extra = {"queue": spec.name, "message_id": incoming.message_id, "attempt": attempt}
    if incoming.processed:
        log.exception("Handler failed after settling the message itself", extra=extra)
        return
    if attempt >= spec.max_attempts:
        log.exception("Handler failed on the last attempt; dead-lettering", extra=extra)
        await incoming.reject(requeue=False)
        return
    log.exception("Handler failed; retrying", extra=extra)
    retry = _retry_message(incoming, attempt + 1)
    try:
        await _publish_confirmed(channel.default_exchange, retry, spec.name, PUBLISH_TIMEOUT)
    except PublishError:
        log.exception("Could not republish for a retry; requeueing", extra=extra)
        await incoming.nack(requeue=True)
        return
    await incoming.ack()


def _retry_message(incoming: AbstractIncomingMessage, attempt: int) -> aio_pika.Message:
    """The same body and properties, with ``attempt``, the first routing key and a new publish time
    in the headers."""
    now = time.time()
    headers = {
        ROUTING_KEY_HEADER: incoming.routing_key or "",
        **incoming.headers,
        ATTEMPT_HEADER: attempt,
        PUBLISHED_AT_HEADER: int(now * 1000),
    }
    return aio_pika.Message(
        body=incoming.body,
        headers=headers,
        content_type=incoming.content_type,
        content_encoding=incoming.content_encoding,
        delivery_mode=incoming.delivery_mode,
        priority=incoming.priority,
        correlation_id=incoming.correlation_id,
        reply_to=incoming.reply_to,
        message_id=incoming.message_id,
        timestamp=datetime.fromtimestamp(now, UTC),
        type=incoming.type,
        app_id=incoming.app_id,
    )


async def publish_to_queue(
    channel: AbstractChannel,
    queue_name: str,
    message: Message,
    *,
    message_id: str | None = None,
    headers: Mapping[str, FieldValue] | None = None,
    timeout: float = PUBLISH_TIMEOUT,
) -> None:
    """Publish ``message`` straight into queue ``queue_name`` (a delay queue, say) through the default
    exchange, persistently and with the trace context, and wait for the confirm of ``channel`` (a
    channel opened with publisher confirms, aio-pika's default); raise PublishError otherwise."""
    await _publish_traced(channel.default_exchange, queue_name, message, message_id, headers, timeout)


async def _publish_traced(
    exchange: AbstractExchange,
    routing_key: str,
    message: Message,
    message_id: str | None,
    headers: Mapping[str, FieldValue] | None,
    timeout: float,
) -> None:
    """One persistent message carrying the trace context and its publish time, confirmed, in a
    producer span."""
    attributes = {"messaging.system": "rabbitmq", "messaging.destination.name": routing_key}
    with tracer(__name__).start_as_current_span(
        f"publish {routing_key}", kind=SpanKind.PRODUCER, attributes=attributes
    ):
        now = time.time()
        amqp_headers: dict[str, FieldValue] = {**(headers or {}), PUBLISHED_AT_HEADER: int(now * 1000)}
        inject_headers(amqp_headers)
        outgoing = aio_pika.Message(
            body=message.SerializeToString(),
            headers=amqp_headers,
            content_type=CONTENT_TYPE,
            type=message.DESCRIPTOR.full_name,
            delivery_mode=DeliveryMode.PERSISTENT,
            message_id=message_id or uuid.uuid4().hex,
            timestamp=datetime.fromtimestamp(now, UTC),
        )
        await _publish_confirmed(exchange, outgoing, routing_key, timeout)
