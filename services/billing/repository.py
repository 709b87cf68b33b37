"""Billing's collections: accounts, API keys, the ledger and reservations. No other service reads them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from libs.ids import new_id
from libs.mongo import Document, IndexSpec, as_datetime, ensure_indexes, utc_now
from services.billing.domain import (
    Account,
    ApiKey,
    ApiKeyMode,
    EntryKind,
    IssuedKey,
    LedgerEntry,
    Reservation,
    ReservationState,
)
from services.billing.domain.usage import USAGE_KINDS
from services.billing.entry_postings import entry_from_doc
from services.billing.marks import APPLIED, new_holder_fields
from services.billing.postings import Postings

__all__ = ["BillingRepository", "PrefixTaken"]


class PrefixTaken(Exception):
    """Another key already has this prefix (about one chance in 2**47); issue a new key."""


def _account(doc: Document) -> Account:
    return Account(
        account_id=doc["_id"],
        name=doc["name"],
        create_time=doc["create_time"],
        balance=doc["balance"],
        free_tier_period=doc.get("free_tier_period", ""),
    )


def _api_key(doc: Document) -> ApiKey:
    return ApiKey(
        key_id=doc["_id"],
        account_id=doc["account_id"],
        prefix=doc["prefix"],
        mode=ApiKeyMode(doc["mode"]),
        name=doc.get("name", ""),
        create_time=doc["create_time"],
        revoke_time=as_datetime(doc.get("revoke_time")),
        last_use_time=as_datetime(doc.get("last_use_time")),
    )


def _reservation(doc: Document) -> Reservation:
    return Reservation(
        reservation_id=doc["_id"],
        account_id=doc["account_id"],
        idempotency_key=doc["idempotency_key"],
        amount=doc["amount"],
        used=doc["used"],
        remaining=doc["remaining"],
        state=ReservationState(doc["state"]),
        create_time=as_datetime(doc["create_time"]) or utc_now(),
        close_time=as_datetime(doc.get("close_time")),
        funded=doc["funded"],
        refunded=doc["refunded"],
    )


class BillingRepository:
    def __init__(self, db: AsyncDatabase[Document]):
        self.db = db
        self.accounts = db["billing_accounts"]
        self.api_keys = db["billing_api_keys"]
        self.ledger = db["billing_ledger"]
        self.reservations = db["billing_reservations"]
        self.postings = Postings(self.ledger, self.accounts, self.reservations)

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self.api_keys, [IndexSpec([("secret_hash", 1)], unique=True)])
        await ensure_indexes(self.api_keys, [IndexSpec([("prefix", 1)], unique=True)])
        await ensure_indexes(self.api_keys, [IndexSpec([("account_id", 1)])])
        await ensure_indexes(
            self.ledger, [IndexSpec([("account_id", 1), ("idempotency_key", 1)], unique=True)]
        )
        await ensure_indexes(self.ledger, [IndexSpec([("account_id", 1), ("state", 1), ("sort_key", -1)])])
        await ensure_indexes(self.ledger, [IndexSpec([("state", 1), ("create_time", 1)])])
        await ensure_indexes(
            self.reservations, [IndexSpec([("account_id", 1), ("idempotency_key", 1)], unique=True)]
        )
        await ensure_indexes(self.reservations, [IndexSpec([("account_id", 1), ("state", 1)])])
        await ensure_indexes(self.reservations, [IndexSpec([("funded", 1), ("refunded", 1), ("state", 1)])])

    # accounts

    async def insert_account(self, name: str) -> Account:
        doc = {
            "_id": new_id("acct"),
            "name": name,
            "balance": 0,
            "free_tier_period": "",
            "create_time": utc_now(),
            **new_holder_fields(),
        }
        await self.accounts.insert_one(doc)
        return _account(doc)

    async def get_account(self, account_id: str) -> Account | None:
        doc = await self.accounts.find_one({"_id": account_id}, {"inflight": 0})
        return None if doc is None else _account(doc)

    async def mark_free_tier_granted(self, account_id: str, period: str) -> None:
        await self.accounts.update_one({"_id": account_id}, {"$set": {"free_tier_period": period}})

    # API keys

    async def insert_api_key(self, account_id: str, issued: IssuedKey, name: str) -> ApiKey:
        doc = {
            "_id": new_id("key"),
            "account_id": account_id,
            "prefix": issued.prefix,
            "secret_hash": issued.secret_hash,
            "mode": issued.mode.value,
            "name": name,
            "create_time": utc_now(),
        }
        try:
            await self.api_keys.insert_one(doc)
        except DuplicateKeyError:
            raise PrefixTaken(issued.prefix) from None
        return _api_key(doc)

    async def find_api_key(self, secret_hash: str) -> ApiKey | None:
        doc = await self.api_keys.find_one({"secret_hash": secret_hash})
        return None if doc is None else _api_key(doc)

    async def revoke_api_key(self, prefix: str, account_id: str) -> ApiKey | None:
        """Revokes the key of ``account_id`` with ``prefix``; None when it has none."""
        query: dict[str, Any] = {"prefix": prefix, "account_id": account_id}
        doc = await self.api_keys.find_one_and_update(
            {**query, "revoke_time": {"$exists": False}},
            {"$set": {"revoke_time": utc_now()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self.api_keys.find_one(query)
        return None if doc is None else _api_key(doc)

    async def mark_api_key_used(self, key_id: str, when: datetime) -> None:
        await self.api_keys.update_one({"_id": key_id}, {"$set": {"last_use_time": when}})

    async def list_api_keys(self, account_id: str, after_id: str | None, limit: int) -> list[ApiKey]:
        query: dict[str, Any] = {"account_id": account_id}
        if after_id:
            query["_id"] = {"$lt": after_id}
        cursor = self.api_keys.find(query).sort("_id", -1).limit(limit)
        return [_api_key(doc) async for doc in cursor]

    # ledger

    async def list_entries(self, account_id: str, after_id: str | None, limit: int) -> list[LedgerEntry]:
        query: dict[str, Any] = {"account_id": account_id, "state": APPLIED}
        if after_id:
            query["sort_key"] = {"$lt": after_id}
        cursor = self.ledger.find(query).sort("sort_key", -1).limit(limit)
        return [entry_from_doc(doc) async for doc in cursor]

    async def usage_entries(self, account_id: str, since: datetime) -> list[tuple[EntryKind, int, datetime]]:
        """(kind, amount, time) of the account's applied charges made since ``since``."""
        query = {
            "account_id": account_id,
            "state": APPLIED,
            "kind": {"$in": [kind.value for kind in USAGE_KINDS]},
            "create_time": {"$gte": since},
        }
        cursor = self.ledger.find(query, {"kind": 1, "amount": 1, "create_time": 1}, batch_size=10_000)
        return [
            (EntryKind(doc["kind"]), doc["amount"], as_datetime(doc["create_time"]) or since)
            async for doc in cursor
        ]

    # reservations

    async def create_reservation(
        self, account_id: str, reservation_id: str, key: str, amount: int
    ) -> Reservation:
        """The reservation, unfunded until its hold is posted; a retry finds the same one."""
        doc = {
            "_id": reservation_id,
            "account_id": account_id,
            "idempotency_key": key,
            "amount": amount,
            "used": 0,
            "remaining": 0,
            "state": ReservationState.OPEN.value,
            "funded": False,
            "refunded": False,
            "create_time": utc_now(),
            **new_holder_fields(),
        }
        try:
            await self.reservations.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.reservations.find_one({"_id": reservation_id})
            assert existing is not None, "reservations are never deleted"
            doc = existing
        return _reservation(doc)

    async def fund_reservation(self, reservation_id: str) -> Reservation:
        """Makes the posted hold available to charges, once."""
        doc = await self.reservations.find_one({"_id": reservation_id})
        assert doc is not None, "reservations are never deleted"
        funded = await self.reservations.find_one_and_update(
            {"_id": reservation_id, "funded": False, "state": ReservationState.OPEN.value},
            {"$set": {"funded": True}, "$inc": {"remaining": doc["amount"]}},
            return_document=ReturnDocument.AFTER,
        )
        return _reservation(funded or doc)

    async def mark_refunded(self, reservation_id: str) -> None:
        await self.reservations.update_one({"_id": reservation_id}, {"$set": {"refunded": True}})

    async def unfunded_reservations(self, older_than: timedelta) -> list[Reservation]:
        query = {
            "funded": False,
            "state": ReservationState.OPEN.value,
            "create_time": {"$lt": utc_now() - older_than},
        }
        return [_reservation(doc) async for doc in self.reservations.find(query)]

    async def unrefunded_reservations(self, older_than: timedelta) -> list[Reservation]:
        query = {
            "refunded": False,
            "funded": True,
            "state": {"$ne": ReservationState.OPEN.value},
            "create_time": {"$lt": utc_now() - older_than},
        }
        return [_reservation(doc) async for doc in self.reservations.find(query)]

    async def find_entry(self, account_id: str, key: str) -> LedgerEntry | None:
        doc = await self.ledger.find_one({"account_id": account_id, "idempotency_key": key, "state": APPLIED})
        return None if doc is None else entry_from_doc(doc)

    async def get_reservation(self, account_id: str, reservation_id: str) -> Reservation | None:
        doc = await self.reservations.find_one({"_id": reservation_id, "account_id": account_id})
        return None if doc is None else _reservation(doc)

    async def close_reservation(
        self, account_id: str, reservation_id: str, state: ReservationState
    ) -> Reservation | None:
        """Closes an open reservation (freezing its remainder); returns it as it now is."""
        doc = await self.reservations.find_one_and_update(
            {
                "_id": reservation_id,
                "account_id": account_id,
                "state": ReservationState.OPEN.value,
                "funded": True,
            },
            {"$set": {"state": state.value, "close_time": utc_now()}},
            return_document=ReturnDocument.AFTER,
        )
        return (
            _reservation(doc) if doc is not None else await self.get_reservation(account_id, reservation_id)
        )

    async def reserved_total(self, account_id: str) -> int:
        cursor = self.reservations.find(
            {"account_id": account_id, "state": ReservationState.OPEN.value, "funded": True}, {"remaining": 1}
        )
        return sum([doc["remaining"] async for doc in cursor])
