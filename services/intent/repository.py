"""Intent's company collections; no other service reads them (first-party events are in
:mod:`services.intent.event_store`).

* ``intent_companies``: per company domain, the last fetch of each source and what it found,
  whether it is tracked (asked about lately) and its weekly refresh state.
* ``intent_refresh_schedule``: one marker per (company, period) a refresh was scheduled for.

Numbers of seconds (``*_epoch``) stand next to dates where a query compares times: the embedded
store compares dates written by ``$set`` as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from libs.mongo import Document, IndexSpec, as_datetime, ensure_indexes, retry_idempotent
from services.intent.domain import (
    Category,
    CompanyState,
    FetchStatus,
    Sighting,
    Signal,
    SourceState,
)

__all__ = ["IntentRepository", "epoch", "ignore_duplicates"]

DUPLICATE_KEY = 11000
SCHEDULE_RETENTION = timedelta(days=35)


def _signal_doc(signal: Signal) -> Document:
    return {
        "name": signal.name,
        "category": signal.category.value,
        "base_strength": signal.base_strength,
        "observed_time": signal.observed_time,
        "source": signal.source,
        "evidence": list(signal.evidence),
        "count": signal.count,
    }


def _signal(doc: Document) -> Signal:
    return Signal(
        name=doc["name"],
        category=Category(doc["category"]),
        base_strength=int(doc["base_strength"]),
        observed_time=as_datetime(doc["observed_time"]) or datetime.now(UTC),
        source=doc.get("source", ""),
        evidence=tuple(doc.get("evidence", ())),
        count=int(doc.get("count", 1)),
    )


def _sighting_doc(sighting: Sighting) -> Document:
    return {
        "slug": sighting.slug,
        "name": sighting.name,
        "category": sighting.category,
        "evidence": list(sighting.evidence),
        "first_seen": sighting.first_seen,
        "last_seen": sighting.last_seen,
    }


def _sighting(doc: Document) -> Sighting:
    first_seen = as_datetime(doc["first_seen"]) or datetime.now(UTC)
    return Sighting(
        slug=doc["slug"],
        name=doc["name"],
        category=doc["category"],
        evidence=tuple(doc.get("evidence", ())),
        first_seen=first_seen,
        last_seen=as_datetime(doc.get("last_seen")) or first_seen,
    )


def _source_state(doc: Any) -> SourceState | None:
    if not isinstance(doc, dict) or "status" not in doc:
        return None
    fetched = as_datetime(doc.get("fetch_time"))
    if fetched is None:
        return None
    return SourceState(FetchStatus(doc["status"]), fetched, doc.get("error", ""), int(doc.get("failures", 0)))


def _company(doc: Document) -> CompanyState:
    hiring = doc.get("hiring") or {}
    technology = doc.get("technology") or {}
    first_seen = {slug: as_datetime(value) for slug, value in (technology.get("first_seen") or {}).items()}
    return CompanyState(
        domain=doc["_id"],
        hiring=_source_state(hiring),
        hiring_signals=tuple(_signal(s) for s in hiring.get("signals", ())),
        technology=_source_state(technology),
        sightings=tuple(_sighting(s) for s in technology.get("sightings", ())),
        baseline_time=as_datetime(technology.get("baseline_time")),
        first_seen={slug: value for slug, value in first_seen.items() if value is not None},
        refresh_period=doc.get("refresh_period", ""),
        last_request_epoch=int(doc.get("last_request_epoch", 0)),
    )


def epoch(now: datetime) -> int:
    return int(now.timestamp())


def ignore_duplicates(error: BulkWriteError) -> int:
    """Inserted count of an unordered insert whose only failures are duplicate keys."""
    details = error.details
    if any(item.get("code") != DUPLICATE_KEY for item in details.get("writeErrors", ())):
        raise error
    return int(details.get("nInserted", 0))


class IntentRepository:
    def __init__(self, db: AsyncDatabase[Document]):
        self.companies = db["intent_companies"]
        self.schedule = db["intent_refresh_schedule"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(
            self.companies, [IndexSpec([("scheduled_period", 1), ("last_request_epoch", 1)])]
        )
        await ensure_indexes(self.schedule, [IndexSpec([("domain", 1), ("period", 1)], unique=True)])
        await ensure_indexes(self.schedule, [IndexSpec([("published", 1), ("create_time", 1)])])
        await ensure_indexes(self.schedule, [IndexSpec([("create_time", 1)])])

    # companies

    async def companies_by_domain(self, domains: Iterable[str]) -> dict[str, CompanyState]:
        wanted = list(dict.fromkeys(domains))
        if not wanted:
            return {}
        found = self.companies.find({"_id": {"$in": wanted}})
        return {doc["_id"]: _company(doc) async for doc in found}

    async def company(self, domain: str) -> CompanyState | None:
        return (await self.companies_by_domain([domain])).get(domain)

    async def track(self, new: Sequence[str], known: Sequence[str], now: datetime) -> None:
        """Marks companies as asked about now, which keeps them in the weekly refresh: ``new`` ones
        are created (another request may have just done it), ``known`` ones updated."""
        now_epoch = epoch(now)
        if new:
            docs = [
                {
                    "_id": domain,
                    **self._upsert_defaults(now),
                    "last_request_epoch": now_epoch,
                    "refresh_epoch": 0,
                }
                for domain in new
            ]
            try:
                await self.companies.insert_many(docs, ordered=False)
            except BulkWriteError as error:
                ignore_duplicates(error)
                known = [*known, *new]
        if known:
            await self.companies.update_many(
                {"_id": {"$in": list(known)}}, {"$max": {"last_request_epoch": now_epoch}}
            )

    @staticmethod
    def _upsert_defaults(now: datetime) -> Document:
        """Fields every company has (``refresh_epoch`` is set with ``$max`` on every write)."""
        return {
            "create_time": now,
            "last_request_epoch": 0,
            "refresh_period": "",
            "scheduled_period": "",
        }

    async def save_hiring_failure(self, domain: str, state: SourceState) -> None:
        await self._save_failure(domain, "hiring", state)

    async def save_technology_failure(self, domain: str, state: SourceState) -> None:
        await self._save_failure(domain, "technology", state)

    async def _save_failure(self, domain: str, field: str, state: SourceState) -> None:
        """Records a failed fetch (its ``failures`` in a row among it); what an earlier fetch found
        stays until one works again. A ``$set`` upsert: retried while the store is unreachable."""
        update = {
            f"{field}.status": state.status.value,
            f"{field}.fetch_time": state.fetch_time,
            f"{field}.error": state.error,
            f"{field}.failures": state.failures,
        }

        async def write() -> None:
            await self.companies.update_one(
                {"_id": domain},
                {
                    "$set": update,
                    "$setOnInsert": self._upsert_defaults(state.fetch_time),
                    "$max": {"refresh_epoch": epoch(state.fetch_time)},
                },
                upsert=True,
            )

        await retry_idempotent(write, f"intent {field} failure")

    async def save_hiring(
        self, domain: str, state: SourceState, signals: Sequence[Signal], boards: Sequence[str]
    ) -> None:
        hiring = {
            "status": state.status.value,
            "fetch_time": state.fetch_time,
            "error": "",
            "boards": list(boards),
            "signals": [_signal_doc(s) for s in signals],
        }
        await self._save(domain, "hiring", hiring, state.fetch_time)

    async def save_technology(
        self,
        domain: str,
        state: SourceState,
        url: str,
        sightings: Sequence[Sighting],
        baseline_time: datetime,
        first_seen: dict[str, datetime],
    ) -> None:
        technology = {
            "status": state.status.value,
            "fetch_time": state.fetch_time,
            "error": "",
            "url": url,
            "sightings": [_sighting_doc(s) for s in sightings],
            "baseline_time": baseline_time,
            "first_seen": first_seen,
        }
        await self._save(domain, "technology", technology, state.fetch_time)

    async def _save(self, domain: str, field: str, value: Document, now: datetime) -> None:
        """Stores what a fetch found (a ``$set`` upsert: retried while the store is unreachable)."""

        async def write() -> None:
            await self.companies.update_one(
                {"_id": domain},
                {
                    "$set": {field: value},
                    "$setOnInsert": self._upsert_defaults(now),
                    "$max": {"refresh_epoch": epoch(now)},
                },
                upsert=True,
            )

        await retry_idempotent(write, f"intent {field}")

    async def complete_period(self, domain: str, period: str) -> None:
        await self.companies.update_one({"_id": domain}, {"$max": {"refresh_period": period}})

    # the weekly refresh

    async def due_for_refresh(
        self, period: str, now: datetime, track_days: int, min_age: timedelta, limit: int
    ) -> list[str]:
        """Tracked companies not yet scheduled in ``period`` and not fetched within ``min_age``."""
        query = {
            "scheduled_period": {"$lt": period},
            "last_request_epoch": {"$gte": epoch(now - timedelta(days=track_days))},
            "refresh_epoch": {"$lt": epoch(now - min_age)},
        }
        return [doc["_id"] async for doc in self.companies.find(query, {"_id": 1}).limit(limit)]

    async def claim_refreshes(self, domains: Sequence[str], period: str, now: datetime) -> list[str]:
        """Inserts the (domain, period) markers; returns the domains this caller claimed (another
        replica's scheduler may have claimed the rest)."""
        docs = [{"domain": d, "period": period, "published": False, "create_time": now} for d in domains]
        if not docs:
            return []
        try:
            await self.schedule.insert_many(docs, ordered=False)
        except BulkWriteError as error:
            ignore_duplicates(error)
            taken = {docs[item["index"]]["domain"] for item in error.details.get("writeErrors", ())}
            return [d for d in domains if d not in taken]
        return list(domains)

    async def mark_scheduled(self, domains: Sequence[str], period: str, published: Sequence[str]) -> None:
        if published:
            await self.schedule.update_many(
                {"domain": {"$in": list(published)}, "period": period}, {"$set": {"published": True}}
            )
        if domains:
            await self.companies.update_many(
                {"_id": {"$in": list(domains)}}, {"$max": {"scheduled_period": period}}
            )

    async def purge(self, now: datetime) -> int:
        """Deletes the markers of periods long gone; returns how many."""
        result = await self.schedule.delete_many({"create_time": {"$lt": now - SCHEDULE_RETENTION}})
        return result.deleted_count

    async def unpublished(self, older_than: datetime, limit: int) -> list[tuple[str, str]]:
        """Markers claimed but never published (their scheduler stopped in between)."""
        found = self.schedule.find({"published": False, "create_time": {"$lt": older_than}}).limit(limit)
        return [(doc["domain"], doc["period"]) async for doc in found]
