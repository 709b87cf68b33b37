"""The weekly refresh with the real broker: scheduling once per company and period, and a worker
for which the same event twice changes nothing the second time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from aio_pika.abc import AbstractQueue, AbstractRobustConnection
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.intent.v1 import intent_events_pb2 as events_pb
from leadmesh.intent.v1 import intent_service_pb2 as pb
from libs import amqp
from libs.mongo import Document, utc_now
from services.intent.domain import refresh_period
from services.intent.repository import IntentRepository
from services.intent.weekly import REFRESH_QUEUE, ROUTING_KEY, RefreshBroker, RefreshScheduler
from tests import grpc_callers
from tests.services.intent.conftest import IntentFactory, intent_settings
from tests.services.intent.web import Web
from tests.waiting import eventually


@pytest_asyncio.fixture
async def broker(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    """A connection to the test vhost; the refresh queue starts and ends empty."""
    connection = await amqp.connect(amqp_url)
    channel = await connection.channel()
    await amqp.declare_topology(channel, [REFRESH_QUEUE])
    queue = await channel.get_queue(REFRESH_QUEUE.name)
    await queue.purge()
    yield connection
    await queue.purge()
    await connection.close()


async def company(db: AsyncDatabase[Document], domain: str) -> Document:
    doc = await db["intent_companies"].find_one({"_id": domain})
    assert doc is not None
    return doc


async def test_the_same_refresh_event_twice_changes_nothing_the_second_time(
    web: Web, start_intent: IntentFactory, amqp_url: str, broker: AbstractRobustConnection
) -> None:
    # One message at a time, in order: once the last one is done, the ones before it are too.
    intent = await start_intent(intent_settings(web, intent_worker_prefetch=1), amqp_url=amqp_url)
    now = utc_now()
    period = refresh_period(now)
    await IntentRepository(intent.db).track(["acme.com", "globex.com"], [], now - timedelta(days=1))
    # The scheduler job publishes one event per tracked company; the worker refreshes them.
    assert await intent.server.part(RefreshBroker).schedule() == 2

    async def refreshed(domain: str) -> bool:
        doc = await intent.db["intent_companies"].find_one({"_id": domain})
        return doc is not None and doc.get("refresh_period") == period

    await eventually(lambda: refreshed("acme.com"))
    await eventually(lambda: refreshed("globex.com"))
    before = await company(intent.db, "acme.com")
    assert before["hiring"]["status"] == "ok" and before["technology"]["status"] == "ok"
    hits = len(web.hits)

    publisher = await amqp.Publisher.open(broker)
    again = events_pb.IntentRefreshRequested(
        company_domain="acme.com",
        period=period,
        sources=[pb.INTENT_SOURCE_HIRING, pb.INTENT_SOURCE_TECHNOLOGY],
    )
    await publisher.publish(ROUTING_KEY, again)
    sentinel = events_pb.IntentRefreshRequested(company_domain="initech.com", period=period)
    await publisher.publish(ROUTING_KEY, sentinel)
    await publisher.close()
    await eventually(lambda: refreshed("initech.com"))

    assert await company(intent.db, "acme.com") == before
    assert [path for _, path in web.hits[hits:] if "acme" in path] == []
    # And nothing was scheduled twice for this period.
    assert await intent.server.part(RefreshBroker).schedule() == 0


async def test_replicas_scheduling_at_once_publish_each_company_once_per_period(
    db: AsyncDatabase[Document], broker: AbstractRobustConnection
) -> None:
    channel = await broker.channel()
    capture = await channel.declare_queue(f"test.capture.{uuid.uuid4().hex}", exclusive=True)
    await capture.bind(amqp.EXCHANGE, ROUTING_KEY)
    repository = IntentRepository(db)
    await repository.ensure_indexes()
    now = utc_now()
    await repository.track([f"co{n}.com" for n in range(30)], [], now - timedelta(days=7))
    await repository.track(["forgotten.com"], [], now - timedelta(days=400))  # no longer tracked
    publishers = [await amqp.Publisher.open(broker) for _ in range(3)]
    schedulers = [RefreshScheduler(repository, p, track_days=90, clock=lambda: now) for p in publishers]

    counts = await asyncio.gather(*(s.schedule() for s in schedulers))
    assert sum(counts) == 30
    messages = await drain(capture, 30)
    assert sorted(m.company_domain for m in messages) == sorted(f"co{n}.com" for n in range(30))
    assert {m.period for m in messages} == {refresh_period(now)}
    assert await asyncio.gather(*(s.schedule() for s in schedulers)) == [0, 0, 0]

    # Next week everyone is due again (fetched more than six days before).
    next_week = now + timedelta(days=7)
    later = RefreshScheduler(repository, publishers[0], track_days=90, clock=lambda: next_week)
    assert await later.schedule() == 30
    assert {m.period for m in await drain(capture, 30)} == {refresh_period(next_week)}
    for publisher in publishers:
        await publisher.close()
    await channel.close()


async def test_a_claim_whose_scheduler_stopped_before_publishing_is_published_later(
    db: AsyncDatabase[Document], broker: AbstractRobustConnection
) -> None:
    channel = await broker.channel()
    capture = await channel.declare_queue(f"test.capture.{uuid.uuid4().hex}", exclusive=True)
    await capture.bind(amqp.EXCHANGE, ROUTING_KEY)
    repository = IntentRepository(db)
    await repository.ensure_indexes()
    now = utc_now()
    period = refresh_period(now)
    # A replica claimed hooli.com an hour ago and stopped before publishing.
    assert await repository.claim_refreshes(["hooli.com"], period, now - timedelta(hours=1)) == ["hooli.com"]
    publisher = await amqp.Publisher.open(broker)
    assert await RefreshScheduler(repository, publisher, 90, lambda: now).schedule() == 1
    (message,) = await drain(capture, 1)
    assert (message.company_domain, message.period) == ("hooli.com", period)
    assert await RefreshScheduler(repository, publisher, 90, lambda: now).schedule() == 0
    await publisher.close()
    await channel.close()


async def drain(queue: AbstractQueue, expected: int) -> list[events_pb.IntentRefreshRequested]:
    """The next ``expected`` messages of ``queue``, then checks nothing else is there (what was
    published before is there: the schedulers publish with confirms)."""
    messages: list[events_pb.IntentRefreshRequested] = []

    async def all_in() -> bool:
        while len(messages) < expected and (incoming := await queue.get(no_ack=True, fail=False)) is not None:
            assert incoming.type == events_pb.IntentRefreshRequested.DESCRIPTOR.full_name
            messages.append(events_pb.IntentRefreshRequested.FromString(incoming.body))
        return len(messages) == expected

    await eventually(all_in, explain=lambda: f"only {len(messages)} of {expected} messages")
    assert await queue.get(no_ack=True, fail=False) is None
    return messages


async def test_readiness_follows_the_broker(web: Web, start_intent: IntentFactory, amqp_url: str) -> None:
    async def status(port: int) -> int:
        async with grpc_callers.channel(f"127.0.0.1:{port}") as channel:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="leadmesh.intent.v1.IntentService"), timeout=5
            )
        return int(answer.status)

    connected = await start_intent(intent_settings(web), amqp_url=amqp_url)
    assert await status(connected.server.port) == health_pb2.HealthCheckResponse.SERVING
    unreachable = await start_intent(
        intent_settings(web, intent_broker_connect_wait=0.3), amqp_url="amqp://guest:guest@127.0.0.1:1/"
    )
    assert await status(unreachable.server.port) == health_pb2.HealthCheckResponse.NOT_SERVING
    # Without a broker (LEADMESH_INTENT_WORKER=false) the service is ready on the store alone.
    plain = await start_intent(intent_settings(web))
    assert await status(plain.server.port) == health_pb2.HealthCheckResponse.SERVING
