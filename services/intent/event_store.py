"""First-party web events (``intent_events``) and the answers given to RecordEvents request ids
(``intent_event_requests``).

Events are stored one document each, per account, unique on (account, event key): the key of a
call with a request id is ``<request id>:<index>``, so a retried call stores nothing twice (and a
crash between storing events and storing the answer costs nothing). Signals add the events up
at read time, per company and type, over the engagement window: one indexed query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from libs.mongo import Document, IndexSpec, as_datetime, ensure_indexes
from services.intent.domain import AcceptedEvent, EngagementTotal, EventRecord, Rejection, total_events
from services.intent.repository import epoch, ignore_duplicates

__all__ = ["EventStore", "StoredAnswer"]

REQUEST_RETENTION = timedelta(days=7)


def _scope(account_id: str, domain: str) -> str:
    """What one account's signals about one company read: the one key the events are found by."""
    return f"{account_id}|{domain}"


@dataclass(frozen=True)
class StoredAnswer:
    """The answer given to a RecordEvents request id, and the digest of the events it came with."""

    body_hash: str
    accepted_count: int
    rejected: list[Rejection]


class EventStore:
    def __init__(self, db: AsyncDatabase[Document]):
        self.events = db["intent_events"]
        self.requests = db["intent_event_requests"]

    async def ensure_indexes(self) -> None:
        """Retention is :meth:`purge`, not TTL indexes: the embedded store scans a whole collection
        on every read of one that has a TTL index."""
        await ensure_indexes(self.events, [IndexSpec([("account_id", 1), ("event_key", 1)], unique=True)])
        await ensure_indexes(self.events, [IndexSpec([("scope", 1)])])
        await ensure_indexes(self.events, [IndexSpec([("occurred_epoch", 1)])])
        await ensure_indexes(self.requests, [IndexSpec([("account_id", 1), ("request_id", 1)], unique=True)])
        await ensure_indexes(self.requests, [IndexSpec([("create_time", 1)])])

    async def purge(self, now: datetime, event_retention: timedelta) -> int:
        """Deletes events older than ``event_retention`` and request answers older than a week."""
        events = await self.events.delete_many({"occurred_epoch": {"$lt": epoch(now - event_retention)}})
        await self.requests.delete_many({"create_time": {"$lt": now - REQUEST_RETENTION}})
        return events.deleted_count

    async def insert_events(
        self, account_id: str, key_prefix: str, events: Sequence[AcceptedEvent], now: datetime
    ) -> int:
        """Stores the events; ones already stored under the same key are skipped. Returns how many are new."""
        docs = [
            {
                "account_id": account_id,
                "event_key": f"{key_prefix}:{event.index}",
                "scope": _scope(account_id, event.domain),
                "domain": event.domain,
                "type": event.type,
                "occurred_time": event.occurred_time,
                "occurred_epoch": epoch(event.occurred_time),
                "url": event.url,
                "visitor": event.visitor,
                "receive_time": now,
            }
            for event in events
        ]
        if not docs:
            return 0
        try:
            result = await self.events.insert_many(docs, ordered=False)
        except BulkWriteError as error:
            return ignore_duplicates(error)
        return len(result.inserted_ids)

    async def engagement_totals(
        self, account_id: str, domains: Sequence[str], since: datetime
    ) -> list[EngagementTotal]:
        """The account's events about ``domains`` since ``since``, added up per domain and type.

        One query on the single-field ``scope`` index (equality for one company: the embedded
        store uses an index for equality but scans for ``$in`` and for aggregations).
        """
        if not account_id or not domains:
            return []
        scopes = [_scope(account_id, domain) for domain in dict.fromkeys(domains)]
        query = {
            "scope": scopes[0] if len(scopes) == 1 else {"$in": scopes},
            "occurred_epoch": {"$gte": epoch(since)},
        }
        projection = {"_id": 0, "domain": 1, "type": 1, "occurred_time": 1, "url": 1, "visitor": 1}
        records = [
            EventRecord(
                doc["domain"],
                doc["type"],
                as_datetime(doc["occurred_time"]) or since,
                doc.get("url", ""),
                doc.get("visitor", ""),
            )
            async for doc in self.events.find(query, projection)
        ]
        return total_events(records)

    async def stored_answer(self, account_id: str, request_id: str) -> StoredAnswer | None:
        doc = await self.requests.find_one({"account_id": account_id, "request_id": request_id})
        if doc is None:
            return None
        rejected = [Rejection(r["index"], r["reason"], r.get("message", "")) for r in doc.get("rejected", ())]
        return StoredAnswer(doc["body_hash"], doc["accepted_count"], rejected)

    async def store_answer(
        self, account_id: str, request_id: str, answer: StoredAnswer, now: datetime
    ) -> StoredAnswer:
        """Keeps the answer to ``request_id``; the one stored first wins a race."""
        doc = {
            "account_id": account_id,
            "request_id": request_id,
            "body_hash": answer.body_hash,
            "accepted_count": answer.accepted_count,
            "rejected": [
                {"index": r.index, "reason": r.reason, "message": r.message} for r in answer.rejected
            ],
            "create_time": now,
        }
        try:
            await self.requests.insert_one(doc)
        except DuplicateKeyError:
            stored = await self.stored_answer(account_id, request_id)
            if stored is not None:
                return stored
        return answer
