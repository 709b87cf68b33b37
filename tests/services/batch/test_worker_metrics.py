"""The batch worker reports the depth of the queues it consumes while it runs, in a vhost of its
own (so no message another test left behind reaches this worker)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from services.batch.app import create_worker
from services.batch.settings import BatchSettings
from tests.metric_points import points

DEPTH = "leadmesh.messaging.queue.depth"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def worker_amqp_url() -> Iterator[str]:
    vhost = f"leadmesh-test-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


def reported_depths(reader: InMemoryMetricReader) -> dict[str, int]:
    return {p.attributes["messaging.destination.name"]: int(p.value) for p in points(reader, DEPTH)}


async def test_the_worker_reports_the_depth_of_its_chunk_dead_chunk_and_webhook_queues(
    db: AsyncDatabase[Document], worker_amqp_url: str, metric_reader: InMemoryMetricReader
) -> None:
    queues = {"batch.chunks", "batch.chunks.dead", "batch.webhooks"}
    worker = await create_worker(db, BatchSettings(shutdown_grace=0.5), worker_amqp_url)
    await worker.start()
    try:
        running = reported_depths(metric_reader)
    finally:
        await worker.stop()
    assert queues <= set(running), running
    assert {running[name] for name in queues} == {0}  # nothing was published in this vhost
    assert not queues & set(reported_depths(metric_reader)), "a stopped worker still reports"
