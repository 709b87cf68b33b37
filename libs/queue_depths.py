"""The depth of the queues a process consumes, as the gauge ``leadmesh.messaging.queue.depth``.

The SDK calls an observable gauge's callback synchronously (from its export thread), so each
:class:`QueueDepths` re-reads its queues every ``interval`` seconds in a task of the event loop
and the callback reports the last values read. A queue that could not be read is left out until
it can be again: no value is better than a stale one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence

from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from opentelemetry.metrics import CallbackOptions, Observation

from libs.amqp import queue_depth
from libs.telemetry import meter

__all__ = ["QueueDepths"]

log = logging.getLogger(__name__)

_RUNNING: set[QueueDepths] = set()
# Seconds one read of a queue's depth may take (the broker may be reconnecting).
READ_TIMEOUT = 5.0


class QueueDepths:
    """Messages ready in ``queues``, re-read every ``interval`` seconds on a channel of its own
    (a passive declare of a missing queue closes its channel) between ``start()`` and ``stop()``."""

    def __init__(self, connection: AbstractRobustConnection, queues: Sequence[str], interval: float = 5.0):
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        self.queues = tuple(queues)
        self.interval = interval
        self._connection = connection
        self._channel: AbstractChannel | None = None
        self._depths: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def depths(self) -> Mapping[str, int]:
        """The last depth read of each queue that could be read."""
        return dict(self._depths)

    async def start(self) -> None:
        """Read the depths once, then keep them fresh in the background."""
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_every_interval(), name="queue-depths")
        _RUNNING.add(self)

    async def stop(self) -> None:
        _RUNNING.discard(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._channel is not None and not self._channel.is_closed:
            with contextlib.suppress(Exception):
                await self._channel.close()
        self._channel = None

    async def refresh(self) -> None:
        for name in self.queues:
            try:
                async with asyncio.timeout(READ_TIMEOUT):
                    if self._channel is None or self._channel.is_closed:
                        self._channel = await self._connection.channel()
                    self._depths[name] = await queue_depth(self._channel, name)
            except Exception as exc:
                self._depths.pop(name, None)
                extra = {"queue": name, "error": type(exc).__name__}
                log.warning("could not read a queue's depth", extra=extra)

    async def _refresh_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.refresh()


def _observe(options: CallbackOptions) -> Iterable[Observation]:
    for running in list(_RUNNING):
        for name, depth in running.depths.items():
            yield Observation(depth, {"messaging.system": "rabbitmq", "messaging.destination.name": name})


meter("leadmesh.amqp").create_observable_gauge(
    "leadmesh.messaging.queue.depth",
    callbacks=[_observe],
    unit="{message}",
    description="Messages ready in a queue this process consumes, by queue",
)
