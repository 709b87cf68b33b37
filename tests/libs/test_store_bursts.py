"""Store writes under a burst and across a store restart (libs.mongo, libs.embedded_store)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from pymongo.errors import DuplicateKeyError, PyMongoError

from libs.embedded_store import EmbeddedStore, free_port
from libs.mongo import connect, retry_idempotent


async def test_a_write_made_while_the_store_restarts_lands_once_it_is_back(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, free_port(), startup_timeout=10.0)
    store.start()
    client = connect(store.uri, app_name="test", timeout_ms=300, operation_timeout_ms=600)
    try:
        outcomes = client["t"]["outcomes"]
        await outcomes.insert_one({"_id": "warm"})
        store.stop()
        with pytest.raises(PyMongoError):  # without the retry, the outcome is lost
            await outcomes.update_one({"_id": "a.com"}, {"$set": {"status": "failed"}}, upsert=True)

        async def write() -> None:
            await outcomes.update_one({"_id": "a.com"}, {"$set": {"status": "failed"}}, upsert=True)

        writing = asyncio.create_task(retry_idempotent(write, "outcome", delays=(0.3, 0.5, 1.0, 2.0, 4.0)))
        await asyncio.sleep(0.2)
        assert not writing.done()
        await asyncio.to_thread(store.start)  # the same data, the same port
        await writing
        assert await outcomes.find_one({"_id": "a.com"}) == {"_id": "a.com", "status": "failed"}
    finally:
        await client.close()
        store.stop()


async def test_a_write_that_cannot_succeed_is_not_retried(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path, free_port()) as store:
        client = connect(store.uri, app_name="test")
        try:
            outcomes = client["t"]["outcomes"]
            await outcomes.insert_one({"_id": "a.com"})
            calls = 0

            async def write() -> None:
                nonlocal calls
                calls += 1
                await outcomes.insert_one({"_id": "a.com"})

            with pytest.raises(DuplicateKeyError):
                await retry_idempotent(write, "outcome")
            assert calls == 1
        finally:
            await client.close()


async def test_hundreds_of_connections_at_once_are_all_accepted(tmp_path: Path) -> None:
    """The store listens with a backlog that holds a burst of new connections (nx-27017's own, 128,
    leaves the rest of a burst waiting for SYN retries, seconds, past the clients' timeouts)."""
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is needed to read the listening backlog")
    with EmbeddedStore(tmp_path, free_port()) as store:
        listening = subprocess.run(
            ["ss", "-ltnH", f"sport = :{store.port}"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert int(listening[2]) > 128, listening  # a listening socket's Send-Q is its backlog

        async def connection() -> asyncio.StreamWriter:
            return (await asyncio.wait_for(asyncio.open_connection(store.host, store.port), 10))[1]

        for writer in await asyncio.gather(*(connection() for _ in range(300))):
            writer.close()
