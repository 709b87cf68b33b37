"""Signed webhooks of finished CSV jobs, delivered through RabbitMQ with exponential back-off.

:meth:`WebhookDeliverer.schedule` publishes a ``WebhookDelivery`` on ``batch.webhook.deliver``; the
consumer of ``batch.webhooks`` POSTs the job's JSON to its ``webhook_url``, signed with the account's
secret in ``Leadmesh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` (one more
``v1=`` per replaced secret still in its grace period, see :mod:`services.batch.signing`). A failed
attempt (non-2xx, timeout, connection error) is republished with ``attempt + 1`` into the delay queue
``batch.webhooks.delay.<ms>``: it has no consumer, and its messages expire after ``<ms>`` back onto
``batch.webhook.deliver``. After ``max_attempts`` the delivery is given up; an address the outbound
policy refuses, or a URL we never fetch, is given up at once. ``Leadmesh-Delivery: <job_id>:<attempt>``
lets an endpoint drop the duplicates at-least-once delivery may bring.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, FieldValue
from google.protobuf.timestamp_pb2 import Timestamp

from leadmesh.batch.v1 import batch_events_pb2 as events_pb
from leadmesh.batch.v1 import batch_service_pb2 as pb
from libs import amqp
from libs.amqp import QueueSpec
from libs.errors import InvalidArgument
from libs.safe_http import UnsafeDestination, check_url
from services.batch.signing import account_webhook_secret

__all__ = [
    "DELIVERY_HEADER",
    "ROUTING_KEY",
    "SIGNATURE_HEADER",
    "WEBHOOK_QUEUE",
    "WebhookDeliverer",
    "account_webhook_secret",
    "delay_queue_name",
    "job_payload",
    "sign",
    "verify",
]

log = logging.getLogger(__name__)

ROUTING_KEY = "batch.webhook.deliver"
# max_attempts counts handler crashes only (a retry that could not be published); failed deliveries
# go through the delay queues.
WEBHOOK_QUEUE = QueueSpec("batch.webhooks", (ROUTING_KEY,), max_attempts=3)
SIGNATURE_HEADER = "Leadmesh-Signature"
DELIVERY_HEADER = "Leadmesh-Delivery"
USER_AGENT = "leadmesh-webhooks/1"

_EVENTS = {
    pb.Job.STATE_SUCCEEDED: ("job.completed", "succeeded"),
    pb.Job.STATE_FAILED: ("job.failed", "failed"),
    pb.Job.STATE_CANCELLED: ("job.cancelled", "cancelled"),
}

LoadJob = Callable[[str, str], Awaitable[pb.Job | None]]
# The secrets an account's deliveries are signed with now, the current one first.
SigningSecrets = Callable[[str], Awaitable[Sequence[str]]]


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes, *others: str) -> str:
    """The ``Leadmesh-Signature`` value of ``body`` sent at ``timestamp`` (unix seconds): a ``v1=``
    signature with ``secret``, then one with each of ``others``."""
    return f"t={timestamp}," + ",".join(f"v1={_digest(key, timestamp, body)}" for key in (secret, *others))


def _parse_signature(header: str) -> tuple[int, list[str]] | None:
    """(timestamp, v1 signatures) of a header, or None when it is malformed; other schemes are skipped."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, equals, value = item.strip().partition("=")
        if not equals or not value:
            return None
        if key == "t":
            if timestamp is not None or len(value) > 12 or not (value.isascii() and value.isdigit()):
                return None
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify(
    secret: str, header: str, body: bytes, *, tolerance: float = 300, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` seconds of
    ``now``; any of several ``v1=`` values may match (secret rotation)."""
    parsed = _parse_signature(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body).encode()
    return any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures)


def job_payload(job: pb.Job) -> dict[str, Any]:
    """The JSON body of the webhook of a job that has ended (ValueError for one that has not)."""
    if job.state not in _EVENTS:
        raise ValueError(f"job {job.job_id} has not ended: {pb.Job.State.Name(job.state)}")
    event, state = _EVENTS[job.state]
    counts = job.counts
    return {
        "type": event,
        "job_id": job.job_id,
        "state": state,
        "total_rows": job.total_rows,
        "counts": {
            "enriched": counts.enriched,
            "not_found": counts.not_found,
            "invalid_input": counts.invalid_input,
            "failed": counts.failed,
        },
        "credits_used": job.credits_used,
        "result_url": f"/v1/jobs/{job.job_id}/result.csv",
        "file_name": job.file_name,
        # RFC 3339 in UTC with "Z".
        "created_at": job.create_time.ToJsonString() if job.HasField("create_time") else None,
        "completed_at": job.end_time.ToJsonString() if job.HasField("end_time") else None,
        "error": job.error or None,
        # False for a test key's job (enriched in the sandbox, free).
        "livemode": not job.sandbox,
    }


def delay_queue_name(delay_ms: int) -> str:
    return f"{WEBHOOK_QUEUE.name}.delay.{delay_ms}"


async def _declare_delay_queue(channel: AbstractChannel, delay_ms: int) -> str:
    """Declare (idempotently) the queue whose messages go back to ``batch.webhooks`` after ``delay_ms``."""
    name = delay_queue_name(delay_ms)
    arguments: dict[str, FieldValue] = {
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": amqp.EXCHANGE,
        "x-dead-letter-routing-key": ROUTING_KEY,
    }
    await channel.declare_queue(name, durable=True, arguments=arguments)
    return name


class WebhookDeliverer:
    """Schedules job webhooks and, as the consumer of ``batch.webhooks``, delivers them."""

    def __init__(
        self,
        *,
        load_job: LoadJob,
        publisher: amqp.Publisher,
        client: httpx.AsyncClient,
        signing_secrets: SigningSecrets,
        max_attempts: int = 8,
        base_delay: float = 1.0,
        max_delay: float = 3600.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1 or base_delay <= 0 or max_delay < base_delay or timeout <= 0:
            raise ValueError("need max_attempts >= 1, 0 < base_delay <= max_delay and timeout > 0")
        self._load_job = load_job
        self._publisher = publisher
        self._client = client
        self._signing_secrets = signing_secrets
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._timeout = timeout
        self._clock = clock
        self._channel: AbstractChannel | None = None

    def retry_delay_ms(self, attempt: int) -> int:
        """How long the delivery after failed ``attempt`` waits, in whole milliseconds."""
        delay = min(self._max_delay, self._base_delay * 2.0 ** min(attempt - 1, 64))
        return max(1, round(delay * 1000))

    async def start(self, channel: AbstractChannel, prefetch: int = 8) -> amqp.Consumer:
        """Declare the delay queues and consume ``batch.webhooks`` on ``channel`` (which needs
        publisher confirms, aio-pika's default: retries are published on it)."""
        self._channel = channel
        for delay_ms in sorted({self.retry_delay_ms(attempt) for attempt in range(1, self._max_attempts)}):
            await _declare_delay_queue(channel, delay_ms)
        return await amqp.consume(
            channel, WEBHOOK_QUEUE, events_pb.WebhookDelivery, self.handle, prefetch=prefetch
        )

    async def schedule(self, job: pb.Job) -> None:
        """Publish the first delivery of ``job``'s webhook, if it has a webhook URL."""
        if not job.webhook_url:
            return
        first = Timestamp()
        first.FromNanoseconds(round(self._clock() * 1e9))
        delivery = events_pb.WebhookDelivery(
            job_id=job.job_id,
            account_id=job.account_id,
            webhook_url=job.webhook_url,
            attempt=1,
            first_attempt_time=first,
        )
        await self._publisher.publish(ROUTING_KEY, delivery, message_id=f"{job.job_id}:1")

    async def handle(self, message: events_pb.WebhookDelivery, incoming: AbstractIncomingMessage) -> None:
        """Deliver one attempt; on failure schedule the next one or give up. Raises only when the
        retry cannot be published (libs.amqp then redelivers this attempt)."""
        attempt = max(1, message.attempt)
        context = {"job_id": message.job_id, "url": _loggable(message.webhook_url), "attempt": attempt}
        job = await self._load_job(message.account_id, message.job_id)
        if job is None:
            log.warning("webhook of a missing job dropped", extra=context)
            return
        if job.state not in _EVENTS:
            log.error("webhook of an unfinished job dropped", extra=context)
            return
        try:
            status = await self._post(message, job, attempt)
        except (UnsafeDestination, InvalidArgument) as refused:
            log.error("webhook given up", extra={**context, "error": refused.message, "retryable": False})
            return
        except (httpx.HTTPError, TimeoutError) as failure:
            problem = type(failure).__name__
        else:
            if 200 <= status < 300:
                log.info("webhook delivered", extra={**context, "status": status})
                return
            problem = f"HTTP {status}"
        await self._retry_or_give_up(message, attempt, {**context, "error": problem})

    async def _post(self, message: events_pb.WebhookDelivery, job: pb.Job, attempt: int) -> int:
        """POST the signed payload; the status code (the response body is never read)."""
        check_url(message.webhook_url)
        body = json.dumps(job_payload(job), separators=(",", ":")).encode()
        current, *replaced = await self._signing_secrets(message.account_id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(current, int(self._clock()), body, *replaced),
            DELIVERY_HEADER: f"{message.job_id}:{attempt}",
        }
        request = self._client.stream(
            "POST", message.webhook_url, content=body, headers=headers, timeout=self._timeout
        )
        async with asyncio.timeout(self._timeout), request as response:
            status: int = response.status_code
        return status

    async def _retry_or_give_up(
        self, message: events_pb.WebhookDelivery, attempt: int, context: dict[str, Any]
    ) -> None:
        if attempt >= self._max_attempts:
            log.error("webhook given up", extra={**context, "retryable": True})
            return
        if self._channel is None:
            raise RuntimeError("WebhookDeliverer.start() was not called")
        delay_ms = self.retry_delay_ms(attempt)
        retry = events_pb.WebhookDelivery()
        retry.CopyFrom(message)
        retry.attempt = attempt + 1
        queue = await _declare_delay_queue(self._channel, delay_ms)
        await amqp.publish_to_queue(self._channel, queue, retry, message_id=f"{message.job_id}:{attempt + 1}")
        log.warning("webhook failed; retry scheduled", extra={**context, "retry_in_ms": delay_ms})


def _loggable(url: str) -> str:
    """The URL as logs may show it: scheme, host and port, never a path, query or credentials
    (a receiver's token often travels in them)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"
