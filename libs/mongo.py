"""MongoDB through PyMongo's native async client, and index bootstrap by each collection's owner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

from libs.telemetry import spans_exported, tracer

__all__ = [
    "CommandTracer",
    "Document",
    "IndexSpec",
    "as_datetime",
    "connect",
    "ensure_expiry_index",
    "ensure_indexes",
    "ping",
    "purge_expired",
    "retry_idempotent",
    "utc_now",
]

log = logging.getLogger(__name__)

Document = dict[str, Any]
T = TypeVar("T")

# Connections one process opens to the store at most. The embedded store answers one command at a
# time per database, so more connections add threads to it, not throughput; a burst of commands
# (hundreds of fetches finishing at once) waits in the client's queue, within each operation's
# deadline, rather than opening connections the store is slow to accept.
MAX_POOL_SIZE = 32
# Seconds between the attempts of retry_idempotent.
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class IndexSpec:
    """An index a service needs on one of its collections."""

    keys: Sequence[tuple[str, int]]
    unique: bool = False
    partial_filter: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "_".join(f"{key}_{direction}" for key, direction in self.keys)


def connect(
    uri: str, *, app_name: str, timeout_ms: int = 5000, operation_timeout_ms: int = 10000
) -> AsyncMongoClient[Document]:
    """One long-lived client per process; dates come back timezone-aware (UTC).

    Every operation has a deadline (``timeoutMS``): a store that stops answering fails the
    call instead of holding it forever.
    """
    return AsyncMongoClient(
        uri,
        event_listeners=[CommandTracer()],
        tz_aware=True,
        appname=f"leadmesh-{app_name}",
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        timeoutMS=operation_timeout_ms,
        maxPoolSize=MAX_POOL_SIZE,
    )


def _transient(error: PyMongoError) -> bool:
    """A connection that failed or an operation that ran out of time: the store may not have
    seen the command, or may have applied it."""
    return isinstance(error, ConnectionFailure) or error.timeout


async def retry_idempotent(
    write: Callable[[], Awaitable[T]], what: str, delays: Sequence[float] = RETRY_DELAYS
) -> T:
    """``write()``, tried again after each delay while it fails for a transient reason (the store
    busy or restarting). Only for writes that are safe to apply twice (``$set`` upserts, inserts
    whose duplicate is ignored); the last failure is raised."""
    for delay in delays:
        try:
            return await write()
        except PyMongoError as error:
            if not _transient(error):
                raise
            log.warning("store write failed; retrying", extra={"write": what, "error": type(error).__name__})
        await asyncio.sleep(delay)
    return await write()


class CommandTracer(monitoring.CommandListener):
    """A CLIENT span per store command, child of the span that issued it, while spans are
    exported (a store command's span has no children: without an exporter it would be CPU for
    nothing)."""

    def __init__(self) -> None:
        self._tracer = tracer("leadmesh.mongo")
        self._spans: dict[tuple[int, object], Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not spans_exported():
            return
        collection = event.command.get(event.command_name)
        target = f"{event.database_name}.{collection}" if isinstance(collection, str) else event.database_name
        span = self._tracer.start_span(
            f"{event.command_name} {target}",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": "mongodb",
                "db.operation.name": event.command_name,
                "db.namespace": event.database_name,
            },
        )
        self._spans[(event.request_id, event.connection_id)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self._spans.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self._spans.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, str(event.failure.get("codeName", "error"))))
            span.end()


async def ensure_indexes(collection: AsyncCollection[Document], specs: Iterable[IndexSpec]) -> None:
    for spec in specs:
        options: dict[str, Any] = {"name": spec.name, "unique": spec.unique}
        if spec.partial_filter:
            options["partialFilterExpression"] = dict(spec.partial_filter)
        await collection.create_index(list(spec.keys), **options)
    log.debug("indexes ensured", extra={"collection": collection.name})


async def ensure_expiry_index(collection: AsyncCollection[Document], field: str) -> None:
    """A plain index on the expiry date ``field``, for :func:`purge_expired`.

    Not a TTL index: the embedded store purges a TTL collection on every read (a delete over the
    collection per find), which costs more than the read itself. A TTL index on ``field`` left by
    an earlier version is dropped first."""
    for name, index in (await collection.index_information()).items():
        if list(index.get("key", [])) == [(field, 1)] and "expireAfterSeconds" in index:
            await collection.drop_index(name)
    await ensure_indexes(collection, [IndexSpec([(field, 1)])])


async def purge_expired(collection: AsyncCollection[Document], field: str) -> int:
    """Deletes the documents whose ``field`` (a date) has passed; returns how many. Readers check
    the date themselves, so purging late only costs space."""
    result = await collection.delete_many({field: {"$lte": utc_now()}})
    return int(result.deleted_count)


async def ping(database: AsyncDatabase[Document]) -> bool:
    """Readiness check: the store answers."""
    result = await database.command("ping")
    return bool(result.get("ok"))


def as_datetime(value: Any) -> datetime | None:
    """A stored date as an aware UTC datetime.

    MongoDB returns BSON dates as datetimes. The embedded store returns a date written by an
    update operator (``$set``, ``$setOnInsert``) as its ISO text; this reads both.
    """
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if isinstance(value, datetime) else None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_now() -> datetime:
    """Now, at the millisecond precision a BSON date keeps (so what is returned equals what is read)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
