"""libs.embedded_store as separate processes, and the Mongo behaviours the services rely on, on it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import InsertOne, MongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from libs.embedded_store import EmbeddedStore, free_port
from libs.mongo import Document, IndexSpec, ensure_expiry_index, ensure_indexes, ping, purge_expired, utc_now


@pytest.fixture
def store_factory(tmp_path: Path) -> Iterator[list[EmbeddedStore]]:
    """Stores a test starts; every one still running is stopped afterwards."""
    started: list[EmbeddedStore] = []
    yield started
    for store in started:
        store.stop()


def start_store(started: list[EmbeddedStore], directory: Path, port: int | None = None) -> EmbeddedStore:
    store = EmbeddedStore(directory, port if port is not None else free_port(), startup_timeout=10.0)
    started.append(store)
    store.start()
    return store


def client_of(store: EmbeddedStore) -> MongoClient[Document]:
    return MongoClient(store.uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)


def answers_ping(store: EmbeddedStore) -> bool:
    try:
        with client_of(store) as client:
            return bool(client.admin.command("ping").get("ok"))
    except PyMongoError:
        return False


def is_gone(store: EmbeddedStore) -> bool:
    """Nothing listens on the store's port any more."""
    try:
        with socket.create_connection((store.host, store.port), timeout=0.5):
            return False
    except ConnectionRefusedError:
        return True


def test_two_stores_run_side_by_side_with_separate_data(
    store_factory: list[EmbeddedStore], tmp_path: Path
) -> None:
    first = start_store(store_factory, tmp_path / "one")
    second = start_store(store_factory, tmp_path / "two")
    assert first.port != second.port
    assert answers_ping(first)
    assert answers_ping(second)
    with client_of(first) as one, client_of(second) as two:
        one["app"]["leads"].insert_one({"_id": "le_1", "email": "ada@example.com"})
        assert one["app"]["leads"].find_one({"_id": "le_1"}) is not None
        assert two["app"]["leads"].find_one({"_id": "le_1"}) is None
    assert first.log_file.parent == tmp_path / "one"
    assert (tmp_path / "one" / "data").is_dir()
    assert (tmp_path / "two" / "data").is_dir()


def test_stopping_one_store_leaves_the_other_running(
    store_factory: list[EmbeddedStore], tmp_path: Path
) -> None:
    first = start_store(store_factory, tmp_path / "one")
    second = start_store(store_factory, tmp_path / "two")
    first.stop()
    assert is_gone(first)
    assert answers_ping(second)
    first.stop()  # stopping twice is harmless


def test_starting_on_a_port_in_use_raises_a_clear_error(
    store_factory: list[EmbeddedStore], tmp_path: Path
) -> None:
    running = start_store(store_factory, tmp_path / "one")
    with pytest.raises(RuntimeError, match=rf"port {running.port} is already in use"):
        start_store(store_factory, tmp_path / "two", port=running.port)
    assert answers_ping(running)

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(RuntimeError, match=rf"port {port} is already in use"):
            start_store(store_factory, tmp_path / "three", port=port)


def test_data_survives_a_stop_and_start_of_the_same_directory(
    store_factory: list[EmbeddedStore], tmp_path: Path
) -> None:
    store = start_store(store_factory, tmp_path / "store")
    with client_of(store) as client:
        client["app"]["accounts"].insert_one({"_id": "ac_1", "balance": 30})
    store.stop()
    again = start_store(store_factory, tmp_path / "store")
    with client_of(again) as client:
        assert client["app"]["accounts"].find_one({"_id": "ac_1"}) == {"_id": "ac_1", "balance": 30}


def test_the_context_manager_stops_the_store(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store", free_port()) as store:
        assert answers_ping(store)
    assert is_gone(store)


# The Mongo behaviours the services rely on, against the session's store.


async def indexes_by_keys(
    collection: AsyncCollection[Document],
) -> dict[tuple[tuple[str, Any], ...], Document]:
    """Indexes by their keys: the store names indexes its own way, whatever name was asked for."""
    info = await collection.index_information()
    return {tuple(index["key"]): index for index in info.values()}


async def test_ping_readiness_check(db: AsyncDatabase[Document]) -> None:
    assert await ping(db) is True


async def test_dates_come_back_timezone_aware(db: AsyncDatabase[Document]) -> None:
    when = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    await db.events.insert_one({"_id": "ev_1", "at": when})
    stored = await db.events.find_one({"_id": "ev_1"})
    assert stored is not None
    assert stored["at"] == when
    assert stored["at"].tzinfo is not None


async def test_a_unique_compound_index_rejects_a_duplicate(db: AsyncDatabase[Document]) -> None:
    await db.charges.create_index([("account_id", 1), ("request_id", 1)], unique=True)
    await db.charges.insert_one({"account_id": "ac_1", "request_id": "r1"})
    await db.charges.insert_one({"account_id": "ac_1", "request_id": "r2"})
    await db.charges.insert_one({"account_id": "ac_2", "request_id": "r1"})
    with pytest.raises(DuplicateKeyError):
        await db.charges.insert_one({"account_id": "ac_1", "request_id": "r1"})
    assert await db.charges.count_documents({}) == 3


async def test_ensure_indexes_creates_unique_and_plain_indexes_idempotently(
    db: AsyncDatabase[Document],
) -> None:
    specs = [
        IndexSpec(keys=[("account_id", 1), ("request_id", 1)], unique=True),
        IndexSpec(keys=[("expires_at", 1)]),
    ]
    await ensure_indexes(db.reservations, specs)
    await ensure_indexes(db.reservations, specs)
    indexes = await indexes_by_keys(db.reservations)
    assert len(indexes) == 3  # _id and the two asked for, not duplicated by the second run
    assert indexes[(("account_id", 1), ("request_id", 1))]["unique"] is True
    assert "expireAfterSeconds" not in indexes[(("expires_at", 1),)]
    await db.reservations.insert_one({"account_id": "ac_1", "request_id": "r1"})
    with pytest.raises(DuplicateKeyError):
        await db.reservations.insert_one({"account_id": "ac_1", "request_id": "r1"})


async def test_an_expiry_index_replaces_a_ttl_index_and_the_purge_deletes_what_expired(
    db: AsyncDatabase[Document],
) -> None:
    await db.cache.create_index("expires_at", expireAfterSeconds=0)
    await ensure_expiry_index(db.cache, "expires_at")
    await ensure_expiry_index(db.cache, "expires_at")
    indexes = await indexes_by_keys(db.cache)
    assert set(indexes) == {(("_id", 1),), (("expires_at", 1),)}
    assert "expireAfterSeconds" not in indexes[(("expires_at", 1),)]
    now = utc_now()
    await db.cache.insert_many(
        [
            {"_id": "gone", "expires_at": now - timedelta(minutes=1)},
            {"_id": "kept", "expires_at": now + timedelta(minutes=1)},
        ]
    )
    assert await purge_expired(db.cache, "expires_at") == 1
    assert [doc["_id"] async for doc in db.cache.find({})] == ["kept"]


async def test_a_ttl_index_can_be_created(db: AsyncDatabase[Document]) -> None:
    await db.sessions.create_index("expires_at", expireAfterSeconds=60)
    indexes = await indexes_by_keys(db.sessions)
    assert indexes[(("expires_at", 1),)]["expireAfterSeconds"] == 60


async def test_a_guarded_decrement_never_overdraws_under_concurrency(db: AsyncDatabase[Document]) -> None:
    await db.accounts.insert_one({"_id": "ac_1", "balance": 30})

    async def charge_one() -> bool:
        after = await db.accounts.find_one_and_update(
            {"_id": "ac_1", "balance": {"$gte": 1}}, {"$inc": {"balance": -1}}
        )
        return after is not None

    outcomes = await asyncio.gather(*(charge_one() for _ in range(50)))
    assert outcomes.count(True) == 30
    account = await db.accounts.find_one({"_id": "ac_1"})
    assert account is not None
    assert account["balance"] == 0


async def test_a_dotted_exists_guard_applies_a_reservation_once(db: AsyncDatabase[Document]) -> None:
    await db.accounts.insert_one({"_id": "ac_1", "balance": 30, "inflight": {}})

    async def reserve() -> int:
        result = await db.accounts.update_one(
            {"_id": "ac_1", "inflight.rs_1": {"$exists": False}},
            {"$set": {"inflight.rs_1": {"credits": 5}}, "$inc": {"balance": -5}},
        )
        return result.modified_count

    modified = await asyncio.gather(*(reserve() for _ in range(10)))
    assert sum(modified) == 1
    account = await db.accounts.find_one({"_id": "ac_1"})
    assert account is not None
    assert account["balance"] == 25
    assert account["inflight"] == {"rs_1": {"credits": 5}}


async def test_set_on_insert_upsert_keeps_the_first_values(db: AsyncDatabase[Document]) -> None:
    first = await db.accounts.update_one(
        {"_id": "ac_1"}, {"$setOnInsert": {"plan": "free", "balance": 30}, "$set": {"seen": 1}}, upsert=True
    )
    second = await db.accounts.update_one(
        {"_id": "ac_1"}, {"$setOnInsert": {"plan": "pro", "balance": 999}, "$set": {"seen": 2}}, upsert=True
    )
    assert first.upserted_id == "ac_1"
    assert second.upserted_id is None
    assert await db.accounts.find_one({"_id": "ac_1"}) == {
        "_id": "ac_1",
        "plan": "free",
        "balance": 30,
        "seen": 2,
    }


async def test_an_unordered_bulk_write_inserts_all_but_the_duplicate(db: AsyncDatabase[Document]) -> None:
    await db.leads.create_index("email", unique=True)
    emails = ["a@x.io", "b@x.io", "a@x.io", "c@x.io", "d@x.io"]
    with pytest.raises(BulkWriteError) as caught:
        await db.leads.bulk_write([InsertOne({"email": e}) for e in emails], ordered=False)
    details = caught.value.details
    assert len(details["writeErrors"]) == 1
    assert details["writeErrors"][0]["index"] == 2
    assert details["writeErrors"][0]["code"] == 11000
    assert details["nInserted"] == 4
    assert sorted(await db.leads.distinct("email")) == ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]


async def test_an_aggregation_sums_per_group(db: AsyncDatabase[Document]) -> None:
    await db.ledger.insert_many(
        [
            {"account_id": "ac_1", "kind": "charge", "credits": -3},
            {"account_id": "ac_1", "kind": "charge", "credits": -2},
            {"account_id": "ac_1", "kind": "grant", "credits": 30},
            {"account_id": "ac_2", "kind": "charge", "credits": -7},
        ]
    )
    cursor = await db.ledger.aggregate(
        [
            {"$match": {"kind": "charge"}},
            {"$group": {"_id": "$account_id", "spent": {"$sum": "$credits"}, "calls": {"$sum": 1}}},
        ]
    )
    totals = {row["_id"]: (row["spent"], row["calls"]) async for row in cursor}
    assert totals == {"ac_1": (-5, 2), "ac_2": (-7, 1)}
