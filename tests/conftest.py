"""Fixtures shared by the whole suite: the embedded store on a free port, a fresh database per
test, a RabbitMQ vhost of this run, and in-process gRPC servers on free ports."""

from __future__ import annotations

import subprocess
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from libs.embedded_store import EmbeddedStore, free_port
from libs.mongo import Document, connect
from libs.telemetry import export_spans, setup_metrics, setup_tracing
from tests import grpc_callers

# Every service a test builds verifies the run's credentials, and calls with the admin one.
grpc_callers.install()


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with EmbeddedStore(tmp_path_factory.mktemp("store"), free_port()) as store:
        yield store.uri


@pytest_asyncio.fixture(scope="session")
async def mongo_client(mongo_uri: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = connect(mongo_uri, app_name="tests")
    yield client
    await client.close()


@pytest_asyncio.fixture
async def db(mongo_client: AsyncMongoClient[Document]) -> AsyncIterator[AsyncDatabase[Document]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A vhost of this test run on the local broker, deleted afterwards."""
    vhost = f"leadmesh-test-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{urllib.parse.quote(vhost, safe='')}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span the test process ends from now on (the process has one tracer provider)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        setup_tracing("tests", None)
    exporter = InMemorySpanExporter()
    export_spans(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="session")
def metric_reader() -> InMemoryMetricReader:
    """The metrics of the test process (its meter provider is installed here, once)."""
    reader = InMemoryMetricReader()
    setup_metrics("tests", None, reader=reader)
    assert isinstance(metrics.get_meter_provider(), MeterProvider), "a meter provider was installed elsewhere"
    return reader
