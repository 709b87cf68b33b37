"""The lookup cache: each external provider's answers, fresh for that provider's TTL.

One document per (provider, question) in ``providers_cache``, written whole by a replace (so
``expires_at`` is a real date on MongoDB and the embedded store alike) and read in batches;
freshness is checked on read, and :meth:`MongoLookupCache.purge_expired` (run periodically by the
server) deletes expired answers. Not a TTL index: the embedded store purges a TTL collection on
every read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document, as_datetime, ensure_expiry_index, purge_expired, utc_now
from services.providers.domain.models import ProviderMatch
from services.providers.domain.ports import CachedAnswer

__all__ = ["MongoLookupCache"]


def _cache_id(provider: str, key: str) -> str:
    return f"{provider}:{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"


class MongoLookupCache:
    def __init__(self, db: AsyncDatabase[Document], erased: Callable[[dict[str, Any]], bool] | None = None):
        """``erased`` tells a person erased from leadmesh: a vendor's answer naming one is not
        kept (it is not given either: see :mod:`services.providers.suppressions`)."""
        self.collection = db["providers_cache"]
        self.erased = erased

    async def ensure_indexes(self) -> None:
        await ensure_expiry_index(self.collection, "expires_at")

    async def purge_expired(self) -> int:
        return await purge_expired(self.collection, "expires_at")

    async def get_many(self, provider: str, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        if not keys:
            return {}
        ids = {_cache_id(provider, key): key for key in keys}
        now = utc_now()
        found: dict[str, CachedAnswer] = {}
        async for doc in self.collection.find({"_id": {"$in": list(ids)}}):
            expires = as_datetime(doc.get("expires_at"))
            stored = as_datetime(doc.get("stored_at")) or now
            if expires is None or expires <= now:
                continue
            payload = doc.get("match")
            match = (
                ProviderMatch.from_document(payload, as_datetime(payload.get("observed_at")) or stored)
                if payload
                else None
            )
            found[ids[doc["_id"]]] = CachedAnswer(match, stored)
        return found

    async def put_many(
        self, provider: str, answers: Sequence[tuple[str, ProviderMatch | None]], ttl: float
    ) -> None:
        now = utc_now()
        expires = now + timedelta(seconds=ttl)
        ops = []
        for key, match in answers:
            if match is not None and self.erased is not None:
                if self.erased(match.person):
                    continue
                match = replace(match, contacts=tuple(c for c in match.contacts if not self.erased(c)))
            doc_id = _cache_id(provider, key)
            doc: Document = {
                "_id": doc_id,
                "provider": provider,
                "match": None if match is None else match.to_document(),
                "stored_at": now,
                "expires_at": expires,
            }
            if match is not None and match.observed_at is None:
                doc["match"]["observed_at"] = now
            ops.append(ReplaceOne({"_id": doc_id}, doc, upsert=True))
        if ops:
            await self.collection.bulk_write(ops, ordered=False)
