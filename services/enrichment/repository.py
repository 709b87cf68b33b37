"""Stored enrichment records (collection ``enrichment_records``), account-scoped, one per
(account, request id) so a retried request finds its first answer.

A record's ``_id`` is ``<account>:<request id>``, so that finding the records of a batch's request
ids is a primary-key read (the embedded store scans a collection for an ``$in`` on any other
field) and a second insert of a request id is a duplicate key; the public id (``ev_...``) is
``record_id``, unique."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.coalesce import Coalescer
from libs.mongo import Document, IndexSpec, ensure_indexes, utc_now

__all__ = ["RecordRepository", "StoredRecord"]

COLLECTION = "enrichment_records"
INDEXES = [IndexSpec([("record_id", 1)], unique=True), IndexSpec([("create_time", 1)])]
_DUPLICATE_KEY = 11000
MAX_INSERT = 1_000
# (request id, request fingerprint, record)
Row = tuple[str, str, pb.EnrichmentRecord]


@dataclass(frozen=True)
class StoredRecord:
    record: pb.EnrichmentRecord
    fingerprint: str


def _key(account_id: str, request_id: str) -> str:
    return f"{account_id}:{request_id}"


def _document(request_id: str, fingerprint: str, record: pb.EnrichmentRecord) -> Document:
    return {
        "_id": _key(record.account_id, request_id),
        "record_id": record.id,
        "account_id": record.account_id,
        "request_id": request_id,
        "fingerprint": fingerprint,
        "sandbox": record.sandbox,
        "record": record.SerializeToString(),
        "create_time": utc_now(),
    }


def _stored(document: Document) -> StoredRecord:
    return StoredRecord(pb.EnrichmentRecord.FromString(bytes(document["record"])), document["fingerprint"])


class RecordRepository:
    def __init__(self, db: AsyncDatabase[Document], coalesce_limit: int = 1):
        self.records = db[COLLECTION]
        self._inserts = Coalescer(
            "enrichment_records.insert", self._insert_all, limit=coalesce_limit, max_items=MAX_INSERT
        )

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self.records, INDEXES)

    async def purge(self, before: datetime) -> int:
        """Deletes the records made before ``before`` (retention); how many."""
        deleted = await self.records.delete_many({"create_time": {"$lt": before}})
        return deleted.deleted_count

    async def get(self, account_id: str, record_id: str, sandbox: bool = False) -> pb.EnrichmentRecord | None:
        """The record, if it is the account's and of the mode asked for (test or live)."""
        mode = True if sandbox else {"$ne": True}  # records stored before test mode are live
        query = {"record_id": record_id, "account_id": account_id, "sandbox": mode}
        document = await self.records.find_one(query)
        return None if document is None else _stored(document).record

    async def by_request(self, account_id: str, request_id: str) -> StoredRecord | None:
        document = await self.records.find_one({"_id": _key(account_id, request_id)})
        return None if document is None else _stored(document)

    async def by_requests(self, account_id: str, request_ids: list[str]) -> dict[str, StoredRecord]:
        if not request_ids:
            return {}
        cursor = self.records.find({"_id": {"$in": [_key(account_id, key) for key in request_ids]}})
        return {document["request_id"]: _stored(document) async for document in cursor}

    async def insert(self, request_id: str, fingerprint: str, record: pb.EnrichmentRecord) -> StoredRecord:
        """Stores the record; when the request id was stored meanwhile, returns that one. Records
        of one account stored while others are being written go in one write."""
        kept = (await self._inserts(record.account_id, [(request_id, fingerprint, record)]))[0]
        if isinstance(kept, Exception):  # this row's own failure, not another's of the same write
            raise kept
        return kept

    async def insert_many(self, rows: list[Row]) -> None:
        """Stores the records (of one account); those whose request id was stored meanwhile keep
        the first. Raises the first row's failure, if any, once every other row is written."""
        for kept in await self._insert_all(rows[0][2].account_id, rows, None) if rows else []:
            if isinstance(kept, Exception):
                raise kept

    async def _insert_all(
        self, account_id: str, rows: list[Row], timeout: float | None
    ) -> list[StoredRecord | Exception]:
        """Each row's outcome: the record kept for its request id (its own, or one stored
        meanwhile), or why it could not be written."""
        try:
            await self.records.insert_many(
                [_document(request_id, fp, record) for request_id, fp, record in rows], ordered=False
            )
        except BulkWriteError as exc:
            failed = {error["index"]: error for error in exc.details.get("writeErrors", [])}
            taken = [n for n, error in failed.items() if error.get("code") == _DUPLICATE_KEY]
            first = await self.by_requests(account_id, [rows[n][0] for n in taken])
            outcomes: list[StoredRecord | Exception] = []
            for n, (request_id, fp, record) in enumerate(rows):
                if n not in failed:
                    outcomes.append(StoredRecord(record, fp))
                elif n in taken and request_id in first:
                    outcomes.append(first[request_id])
                else:  # not a request stored meanwhile (a clashing record id, a rejected document)
                    outcomes.append(RuntimeError(f"record {record.id} not stored: {failed[n].get('errmsg')}"))
            return outcomes
        return [StoredRecord(record, fp) for _, fp, record in rows]
