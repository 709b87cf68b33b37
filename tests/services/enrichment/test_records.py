"""Stored enrichment records written together (concurrent requests of one account): each row gets
its own outcome."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.mongo import Document
from services.enrichment.repository import RecordRepository


def record(record_id: str) -> pb.EnrichmentRecord:
    return pb.EnrichmentRecord(id=record_id, account_id="acct_1")


async def test_one_rows_failure_in_a_merged_write_is_its_own(db: AsyncDatabase[Document]) -> None:
    records = RecordRepository(db, coalesce_limit=1)
    await records.ensure_indexes()
    first = await records.insert("req-a", "print-a", record("ev_1"))

    outcomes = await asyncio.gather(
        records.insert("req-c", "print-c", record("ev_2")),  # alone: the slot is free
        records.insert("req-b", "print-b", record("ev_1")),  # merged with the next: a clashing id
        records.insert("req-d", "print-d", record("ev_3")),
        records.insert("req-a", "print-other", record("ev_4")),  # a request stored before
        return_exceptions=True,
    )

    assert [getattr(o, "record", None) and o.record.id for o in outcomes] == ["ev_2", None, "ev_3", "ev_1"]
    assert isinstance(outcomes[1], RuntimeError) and "ev_1" in str(outcomes[1])
    assert outcomes[3] == first  # the first answer and its fingerprint, not the new one
    assert await records.by_request("acct_1", "req-d") is not None
    assert await records.by_request("acct_1", "req-b") is None


async def test_a_batchs_rows_are_written_though_one_fails(db: AsyncDatabase[Document]) -> None:
    records = RecordRepository(db)
    await records.ensure_indexes()
    await records.insert("req-a", "print-a", record("ev_1"))

    with pytest.raises(RuntimeError, match="ev_1"):
        await records.insert_many(
            [("req-x", "p", record("ev_5")), ("req-y", "p", record("ev_1")), ("req-z", "p", record("ev_6"))]
        )

    assert {r.record.id for r in (await records.by_requests("acct_1", ["req-x", "req-z"])).values()} == {
        "ev_5",
        "ev_6",
    }
