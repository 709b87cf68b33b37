"""The weekly refresh over RabbitMQ: a scheduler publishes ``intent.refresh`` once per tracked
company per ISO week, and the worker consumes them.

Scheduler: a maintenance job of every replica. Before publishing it inserts a marker unique on
(company, period), so replicas running at the same moment publish each company once; a marker left
unpublished by a replica that stopped in between is published by a later run (a second message
for the same period is harmless). Worker: idempotent on (company, period), see
:meth:`IntentSignals.refresh_for_period`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from google.protobuf.timestamp_pb2 import Timestamp

from leadmesh.intent.v1 import intent_events_pb2 as events_pb
from leadmesh.intent.v1 import intent_service_pb2 as pb
from libs import amqp
from services.intent.domain import Source, refresh_period
from services.intent.intent_signals import IntentSignals
from services.intent.repository import IntentRepository

__all__ = ["REFRESH_QUEUE", "ROUTING_KEY", "RefreshBroker", "RefreshScheduler"]

log = logging.getLogger(__name__)

ROUTING_KEY = "intent.refresh"
REFRESH_QUEUE = amqp.QueueSpec("intent.refresh", (ROUTING_KEY,))
# A company fetched more recently than this waits for the next run of the scheduler.
MIN_AGE = timedelta(days=6)
# A marker unpublished for this long belongs to a scheduler that stopped.
ABANDONED_AFTER = timedelta(minutes=10)
BATCH = 500
RECONNECT_DELAY = 5.0

_SOURCES = {pb.INTENT_SOURCE_HIRING: Source.HIRING, pb.INTENT_SOURCE_TECHNOLOGY: Source.TECHNOLOGY}


class RefreshScheduler:
    def __init__(
        self,
        repository: IntentRepository,
        publisher: amqp.Publisher,
        track_days: int,
        clock: Callable[[], datetime],
    ):
        self.repository = repository
        self.publisher = publisher
        self.track_days = track_days
        self.clock = clock

    async def schedule(self) -> int:
        """Publishes this period's refresh of every tracked company due; returns how many."""
        now = self.clock()
        period = refresh_period(now)
        published = 0
        for domain, marked_period in await self.repository.unpublished(now - ABANDONED_AFTER, BATCH):
            await self._publish(domain, marked_period, now)
            await self.repository.mark_scheduled([domain], marked_period, [domain])
            published += 1
        seen: set[str] = set()
        while True:
            due = await self.repository.due_for_refresh(period, now, self.track_days, MIN_AGE, BATCH)
            due = [domain for domain in due if domain not in seen]
            if not due:
                break
            seen.update(due)
            claimed = await self.repository.claim_refreshes(due, period, now)
            for domain in claimed:
                await self._publish(domain, period, now)
            await self.repository.mark_scheduled(due, period, claimed)
            published += len(claimed)
        if published:
            log.info("refreshes scheduled", extra={"period": period, "count": published})
        return published

    async def _publish(self, domain: str, period: str, now: datetime) -> None:
        requested = Timestamp()
        requested.FromDatetime(now)
        message = events_pb.IntentRefreshRequested(
            company_domain=domain,
            period=period,
            sources=[pb.INTENT_SOURCE_HIRING, pb.INTENT_SOURCE_TECHNOLOGY],
            requested_time=requested,
        )
        await self.publisher.publish(ROUTING_KEY, message, message_id=f"intent.refresh:{domain}:{period}")


class RefreshBroker:
    """The AMQP side of the service (a part of it, see ``libs.service``): one connection, the
    scheduler's publisher and the worker.

    It connects in the background and keeps trying, so the gRPC server starts without a broker;
    ``start()`` gives it ``connect_wait`` seconds first, so that the first health answer is
    SERVING. :meth:`ready` (part of the service's readiness) is true once the worker consumes.
    """

    def __init__(
        self,
        url: str,
        signals: IntentSignals,
        repository: IntentRepository,
        *,
        prefetch: int,
        track_days: int,
        clock: Callable[[], datetime],
        connect_wait: float = 5.0,
    ):
        self.url = url
        self.signals = signals
        self.repository = repository
        self.prefetch = prefetch
        self.track_days = track_days
        self.clock = clock
        self.connect_wait = connect_wait
        self.scheduler: RefreshScheduler | None = None
        self._connection: AbstractRobustConnection | None = None
        self._consumer: amqp.Consumer | None = None
        self._publisher: amqp.Publisher | None = None
        self._connecting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._connecting = asyncio.create_task(self._connect(), name="intent-broker-connect")
        if not await self.wait_ready(self.connect_wait):
            log.warning("broker not connected yet; NOT_SERVING until it is")

    async def _connect(self) -> None:
        while True:
            try:
                await self._open()
                return
            except Exception as exc:
                log.warning("broker unavailable; retrying", extra={"error": type(exc).__name__})
                await self._close()
                await asyncio.sleep(RECONNECT_DELAY)

    async def _open(self) -> None:
        self._connection = await amqp.connect(self.url)
        self._publisher = await amqp.Publisher.open(self._connection)
        channel = await self._connection.channel()
        self._consumer = await amqp.consume(
            channel, REFRESH_QUEUE, events_pb.IntentRefreshRequested, self._handle, prefetch=self.prefetch
        )
        self.scheduler = RefreshScheduler(self.repository, self._publisher, self.track_days, self.clock)
        log.info("refresh worker consuming", extra={"queue": REFRESH_QUEUE.name})

    async def wait_ready(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for the first connection; whether the worker consumes."""
        if self._connecting is not None and timeout > 0:
            await asyncio.wait({self._connecting}, timeout=timeout)
        return await self.ready()

    async def ready(self) -> bool:
        return (
            self._consumer is not None
            and self._connection is not None
            and self._connection.connected.is_set()
        )

    async def schedule(self) -> int:
        """The maintenance job: nothing until the broker is connected."""
        if self.scheduler is None:
            return 0
        return await self.scheduler.schedule()

    async def _handle(
        self, message: events_pb.IntentRefreshRequested, incoming: AbstractIncomingMessage
    ) -> None:
        sources = [_SOURCES[s] for s in message.sources if s in _SOURCES]
        await self.signals.refresh_for_period(message.company_domain, message.period, sources)

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.cancel()
        await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        self.scheduler = self._publisher = self._consumer = None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
