"""What operators read about the providers: lookups by provider and outcome (hit rates), and the
state of each provider's circuit breaker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from libs.mongo import Document
from services.providers.adapters.http import CallPolicy, HttpCaller
from services.providers.adapters.resilience import CircuitBreaker
from tests.metric_points import points_where
from tests.services.providers.fake_vendors import ENRICH, JANE, FakeVendors, running_vendors, vendor_config
from tests.services.providers.support import load_directory, serve

LOOKUPS = "leadmesh.providers.lookups"
CIRCUIT = "leadmesh.providers.circuit_state"


@pytest_asyncio.fixture
async def vendors() -> AsyncIterator[FakeVendors]:
    async with running_vendors() as fake:
        fake.people["jane.doe@initech.com"] = (8, JANE)
        yield fake


def people_vendor(url: str, **settings: Any) -> tuple[str, dict[str, Any]]:
    """A configuration whose person vendor has a name of its own (the metrics are per process)."""
    name = f"people_{uuid.uuid4().hex[:8]}"
    return name, vendor_config(url, order=[name], people_vendor={"name": name, **settings})


def lookups(reader: InMemoryMetricReader, provider: str) -> dict[str, int]:
    return {p.attributes["outcome"]: p.value for p in points_where(reader, LOOKUPS, {"provider": provider})}


def circuit_state(reader: InMemoryMetricReader, provider: str) -> int:
    [point] = points_where(reader, CIRCUIT, {"provider": provider})
    return int(point.value)


async def test_lookups_are_counted_by_provider_and_outcome(
    db: AsyncDatabase[Document], vendors: FakeVendors, metric_reader: InMemoryMetricReader
) -> None:
    await load_directory(db)
    name, config = people_vendor(vendors.url, cache_ttl=3600)
    directory_before = lookups(metric_reader, "directory")
    jane = pb.LookupRequest(account_id="acct_1", lead=common.LeadInput(email="jane.doe@initech.com"))
    async with serve(db, config) as stub:
        for request in (jane, jane):  # the second answer comes from the lookup cache
            assert (await stub.Lookup(request, timeout=10)).result.found
        batch = [common.LeadInput(email=f"nobody{i}@initech.com") for i in range(3)]
        await stub.LookupBatch(pb.LookupBatchRequest(leads=batch), timeout=10)
    assert lookups(metric_reader, name) == {"matched": 1, "cached": 1, "no_match": 3}
    directory = lookups(metric_reader, "directory")
    assert directory.get("no_match", 0) - directory_before.get("no_match", 0) == 5


async def test_failures_and_an_open_circuit_are_counted_and_the_circuit_is_reported_open(
    db: AsyncDatabase[Document], vendors: FakeVendors, metric_reader: InMemoryMetricReader
) -> None:
    vendors.always(ENRICH, "500")
    name, config = people_vendor(vendors.url, concurrency=1, breaker_failures=3, breaker_cooldown=60)
    leads = [common.LeadInput(email=f"person{i}@initech.com") for i in range(6)]
    async with serve(db, config) as stub:
        assert circuit_state(metric_reader, name) == 0
        await stub.LookupBatch(pb.LookupBatchRequest(leads=leads), timeout=10)
        assert circuit_state(metric_reader, name) == 2
    assert lookups(metric_reader, name) == {"error": 3, "circuit_open": 3}


async def test_the_circuit_state_gauge_follows_closed_open_half_open_and_closed_again(
    metric_reader: InMemoryMetricReader,
) -> None:
    now = [0.0]
    name = f"vendor_{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient() as client:
        caller = HttpCaller(name, client, CallPolicy())
        caller.breaker = CircuitBreaker(failures=2, cooldown=10, clock=lambda: now[0])
        assert circuit_state(metric_reader, name) == 0
        caller.breaker.failed()
        caller.breaker.failed()
        assert circuit_state(metric_reader, name) == 2
        now[0] = 11.0
        assert circuit_state(metric_reader, name) == 1
        caller.breaker.succeeded()
        assert circuit_state(metric_reader, name) == 0
