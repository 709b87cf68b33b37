"""The lookup cache: per-provider answers kept for the provider's TTL, refresh bypasses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from libs.mongo import Document, utc_now
from services.providers.cache import MongoLookupCache
from tests.services.providers.fake_vendors import ENRICH, JANE, FakeVendors, running_vendors, vendor_config
from tests.services.providers.support import serve

Outcome = pb.ProviderAttempt


@pytest_asyncio.fixture
async def vendors() -> AsyncIterator[FakeVendors]:
    async with running_vendors() as fake:
        fake.people["jane.doe@initech.com"] = (8, JANE)
        yield fake


def config(url: str) -> dict[str, object]:
    return vendor_config(url, order=["people_vendor"], people_vendor={"cache_ttl": 3600})


def request(email: str, refresh: bool = False) -> pb.LookupRequest:
    return pb.LookupRequest(lead=common.LeadInput(email=email), options=pb.LookupOptions(refresh=refresh))


async def test_answers_are_served_from_the_cache_until_refreshed(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    async with serve(db, config(vendors.url)) as stub:
        first = (await stub.Lookup(request("jane.doe@initech.com"), timeout=10)).result
        second = (await stub.Lookup(request("JANE.DOE@initech.com"), timeout=10)).result
        assert vendors.count(ENRICH) == 1
        refreshed = (await stub.Lookup(request("jane.doe@initech.com", refresh=True), timeout=10)).result
        assert vendors.count(ENRICH) == 2
    assert first.attempts[1].outcome == Outcome.OUTCOME_MATCHED
    assert second.attempts[1].outcome == Outcome.OUTCOME_CACHED
    assert second.found and second.person.title == first.person.title == "Vice President of Sales"
    assert second.providers_matched == 1
    cached_time = second.person.field_sources["title"].observed_time
    assert cached_time == first.person.field_sources["title"].observed_time, "when it was seen, not served"
    assert refreshed.attempts[1].outcome == Outcome.OUTCOME_MATCHED


async def test_no_match_is_cached_and_failures_are_not(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    async with serve(db, config(vendors.url)) as stub:
        await stub.Lookup(request("ghost@initech.com"), timeout=10)
        again = (await stub.Lookup(request("ghost@initech.com"), timeout=10)).result
        assert vendors.count(ENRICH) == 1
        assert (again.attempts[1].outcome, again.attempts[1].reason) == (Outcome.OUTCOME_CACHED, "NO_MATCH")
        assert not again.found and again.providers_matched == 0

        vendors.fail(ENRICH, "500")
        failed = (await stub.Lookup(request("jane.doe@initech.com"), timeout=10)).result
        assert failed.attempts[1].outcome == Outcome.OUTCOME_ERROR
        recovered = (await stub.Lookup(request("jane.doe@initech.com"), timeout=10)).result
        assert recovered.attempts[1].outcome == Outcome.OUTCOME_MATCHED
        assert vendors.count(ENRICH) == 3


async def test_an_expired_answer_is_asked_again(db: AsyncDatabase[Document], vendors: FakeVendors) -> None:
    async with serve(db, config(vendors.url)) as stub:
        await stub.Lookup(request("jane.doe@initech.com"), timeout=10)
        cache = db["providers_cache"]
        entry = await cache.find_one({"provider": "people_vendor"})
        assert entry is not None
        assert entry["expires_at"] - entry["stored_at"] == timedelta(hours=1)
        await cache.replace_one(
            {"_id": entry["_id"]}, {**entry, "expires_at": utc_now() - timedelta(seconds=1)}
        )
        again = (await stub.Lookup(request("jane.doe@initech.com"), timeout=10)).result
    assert again.attempts[1].outcome == Outcome.OUTCOME_MATCHED
    assert vendors.count(ENRICH) == 2


async def test_expired_answers_are_purged(db: AsyncDatabase[Document], vendors: FakeVendors) -> None:
    """The periodic purge deletes expired answers and keeps fresh ones. The index on expires_at
    is a plain one (a TTL index makes the embedded store purge on every read)."""
    async with serve(db, config(vendors.url)) as stub:
        await stub.Lookup(request("jane.doe@initech.com"), timeout=10)
        indexes = [index async for index in await db["providers_cache"].list_indexes()]
    assert [list(index["key"]) for index in indexes if "expires_at" in index["key"]] == [["expires_at"]]
    assert not [index for index in indexes if "expireAfterSeconds" in index]
    cache = MongoLookupCache(db)
    await cache.put_many("people_vendor", [("gone", None)], ttl=-1)
    await cache.put_many("people_vendor", [("kept", None)], ttl=3600)
    assert await cache.purge_expired() == 1
    assert set(await cache.get_many("people_vendor", ["gone", "kept"])) == {"kept"}
