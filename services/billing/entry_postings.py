"""One entry posted exactly once, step by step (the protocol is described in
:mod:`services.billing.postings`): insert it pending, apply it to its holder in one conditional
update that sets its mark, mark it applied. A retry of its key replays it or finishes it; an
attempt that can never apply is renewed; an update that did not apply says why (the caller's
error, or FreeTierDue). The group path, :mod:`services.billing.group_postings`, builds on this one
and falls back on it.
"""

from __future__ import annotations

import asyncio
from typing import Any, NoReturn

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from libs.errors import Conflict, FailedPrecondition, LeadmeshError, NotFound
from libs.ids import new_id, random_base62
from libs.mongo import Document, utc_now
from services.billing.domain import EntryKind, FreeTierDue, LedgerEntry, NewEntry
from services.billing.marks import (
    APPLIED,
    PENDING,
    REJECTED,
    Holder,
    MarkPruner,
    applied_by_mark,
    attempt_id,
)

__all__ = ["EntryPostings", "entry_from_doc"]

MAX_ROUNDS = 4
# A retry that finds its entry applied by a group still being finished waits this long for the
# group's poster to finish it (with the balance right after it) before finishing it itself.
GROUP_FINISH_POLL = 0.02
GROUP_FINISH_POLLS = 25


class _Retry(Exception):
    """The holder changed between the failed update and the look at why; try again."""


def entry_from_doc(doc: Document) -> LedgerEntry:
    return LedgerEntry(
        entry_id=doc["_id"],
        account_id=doc["account_id"],
        kind=EntryKind(doc["kind"]),
        amount=doc["amount"],
        balance_after=doc.get("balance_after", 0),
        idempotency_key=doc["idempotency_key"],
        description=doc.get("description", ""),
        reservation_id=doc.get("reservation_id", ""),
        create_time=doc["create_time"],
        sort_key=doc.get("sort_key", ""),
    )


class EntryPostings:
    """Postings of one entry at a time, on the ledger, account and reservation collections."""

    def __init__(
        self,
        ledger: AsyncCollection[Document],
        accounts: AsyncCollection[Document],
        reservations: AsyncCollection[Document],
    ):
        self.ledger = ledger
        self.accounts = accounts
        self.reservations = reservations
        self.pruner = MarkPruner(ledger, reservations)

    async def settled(self) -> None:
        """Waits for the prunes under way (tests; the server, before it closes its store client)."""
        await self.pruner.settled()

    async def post(self, new: NewEntry, *, free_tier_period: str | None = None) -> tuple[LedgerEntry, bool]:
        """Posts ``new`` once; returns the entry and whether it had been posted before.

        With ``free_tier_period``, an account whose free tier for that period is not granted yet
        raises :class:`FreeTierDue` instead of being debited (the caller grants, then retries).
        """
        doc = self._new_doc(new)
        try:
            await self.ledger.insert_one(doc)
        except DuplicateKeyError:
            return await self._post_existing(new, free_tier_period)
        return await self._post_inserted(doc, new, free_tier_period)

    async def _post_existing(
        self, new: NewEntry, free_tier_period: str | None = None
    ) -> tuple[LedgerEntry, bool]:
        """A retry: replays the entry of the key, or finishes it."""
        doc = await self._existing(new)
        if doc["state"] == APPLIED:
            return entry_from_doc(doc), True
        return await self._post_inserted(doc, new, free_tier_period)

    async def _post_inserted(
        self, doc: Document, new: NewEntry, free_tier_period: str | None = None
    ) -> tuple[LedgerEntry, bool]:
        """Steps 2 and 3 of the stored entry ``doc``."""
        holder = self._holder(new, free_tier_period)
        for _ in range(MAX_ROUNDS):
            try:
                return await self._settle(doc, holder, new, free_tier_period)
            except _Retry:
                fresh = await self.ledger.find_one({"_id": doc["_id"]})
                assert fresh is not None, "ledger entries are never deleted"
                doc = fresh
        raise Conflict("the balance is changing too fast; retry", reason="CONCURRENT_WRITE")

    async def _settle(
        self, doc: Document, holder: Holder, new: NewEntry, free_tier_period: str | None
    ) -> tuple[LedgerEntry, bool]:
        if doc["state"] == REJECTED:  # a retry: pending again first, so recover() sees it if we die
            await self.ledger.update_one(
                {"_id": doc["_id"], "attempt": doc["attempt"], "state": REJECTED},
                {"$set": {"state": PENDING}},
            )
        applied_now = await self._apply(doc, holder)
        if applied_now is not None:
            return await self._finish(doc, holder, applied_now), False
        fresh = await self.ledger.find_one({"_id": doc["_id"]})
        if fresh is not None and fresh["state"] == APPLIED:
            return entry_from_doc(fresh), True
        current = await holder.collection.find_one({"_id": holder.holder_id})
        if current is not None and applied_by_mark(doc, current):
            return await self._finish_marked(doc, holder, current)
        # An attempt at or below the floor, or marked without this entry, never applies it.
        if current is not None and (
            current.get("floor", "") >= doc["attempt"] or doc["attempt"] in current.get("inflight", {})
        ):
            await self._renew_attempt(doc, current.get("floor", ""))
        rejection = self._rejection(new, doc, current, free_tier_period)
        if isinstance(rejection, LeadmeshError):
            await self.ledger.update_one(
                {"_id": doc["_id"], "attempt": doc["attempt"], "state": PENDING},
                {"$set": {"state": REJECTED}},
            )
        raise rejection

    def _new_doc(self, new: NewEntry) -> Document:
        return {
            "_id": new_id("le"),
            "attempt": attempt_id(),
            "account_id": new.account_id,
            "idempotency_key": new.idempotency_key,
            "kind": new.kind.value,
            "amount": new.amount,
            "description": new.description,
            "reservation_id": new.reservation_id,
            "holder": "reservation" if new.draws_on_reservation else "account",
            "state": PENDING,
            "create_time": utc_now(),
        }

    async def _existing(self, new: NewEntry) -> Document:
        doc = await self.ledger.find_one(
            {"account_id": new.account_id, "idempotency_key": new.idempotency_key}
        )
        assert doc is not None, "ledger entries are never deleted"
        first = (doc["kind"], doc["amount"], doc.get("reservation_id", ""))
        if first != (new.kind.value, new.amount, new.reservation_id):
            raise Conflict(
                f"idempotency key {new.idempotency_key!r} was already used for a different operation",
                reason="IDEMPOTENCY_KEY_REUSED",
            )
        return doc

    async def _renew_attempt(self, doc: Document, floor: str) -> NoReturn:
        """The attempt can never apply the entry (it is at or below the holder's floor, or marked
        for other entries), so a new one is safe.

        The new attempt is above the floor even when this process's clock is behind the one that
        raised it."""
        attempt = attempt_id()
        if attempt <= floor:
            attempt = f"{floor}~{random_base62(6)}"
        await self.ledger.update_one(
            {"_id": doc["_id"], "attempt": doc["attempt"], "state": {"$ne": APPLIED}},
            {"$set": {"attempt": attempt, "state": PENDING}},
        )
        raise _Retry

    def _holder(self, new: NewEntry, free_tier_period: str | None) -> Holder:
        if new.draws_on_reservation:
            return Holder(
                self.reservations,
                new.reservation_id,
                "remaining",
                {"account_id": new.account_id, "state": "open"},
                {"used": -new.amount},
            )
        guard = {"free_tier_period": free_tier_period} if free_tier_period else {}
        return Holder(self.accounts, new.account_id, "balance", guard, {})

    async def _apply(self, doc: Document, holder: Holder) -> Document | None:
        """Step 2: the holder after the update, or None when the update did not apply."""
        attempt = doc["attempt"]
        query: dict[str, Any] = {
            "_id": holder.holder_id,
            f"inflight.{attempt}": {"$exists": False},
            "floor": {"$lt": attempt},
            **holder.guard,
        }
        if doc["amount"] < 0:
            query[holder.field] = {"$gte": -doc["amount"]}
        updated: Document | None = await holder.collection.find_one_and_update(
            query,
            {
                "$inc": {holder.field: doc["amount"], **holder.extra_inc},
                "$set": {f"inflight.{attempt}": doc["_id"]},
            },
            projection={holder.field: 1, "inflight": 1, "floor": 1},
            return_document=ReturnDocument.AFTER,
        )
        return updated

    async def _finish_marked(
        self, doc: Document, holder: Holder, current: Document
    ) -> tuple[LedgerEntry, bool]:
        """A retry's entry that the holder's mark proves applied, not marked applied yet.

        The poster of a group marks its entries with their balances right after each (it knows
        the holder after the group); the holder now may have moved on. So a retry waits for that
        briefly, and finishes the entry itself, with the holder's balance now (as recover() does),
        only if the poster does not (it crashed)."""
        if isinstance(current["inflight"][doc["attempt"]], dict):
            for _ in range(GROUP_FINISH_POLLS):
                await asyncio.sleep(GROUP_FINISH_POLL)
                fresh = await self.ledger.find_one({"_id": doc["_id"]})
                if fresh is not None and fresh["state"] == APPLIED:
                    return entry_from_doc(fresh), True
        return await self._finish(doc, holder, int(current[holder.field])), False

    async def _finish(self, doc: Document, holder: Holder, holder_doc: Document | int) -> LedgerEntry:
        """Step 3, and pruning of the holder's old marks when they pile up. An entry finished
        meanwhile (by its group's poster) keeps what that wrote and is returned as stored."""
        balance_after = holder_doc if isinstance(holder_doc, int) else int(holder_doc[holder.field])
        # sort_key orders the ledger by when entries took effect.
        applied = {"state": APPLIED, "balance_after": balance_after, "sort_key": new_id("ls")}
        result = await self.ledger.update_one(
            {"_id": doc["_id"], "attempt": doc["attempt"], "state": {"$ne": APPLIED}}, {"$set": applied}
        )
        if isinstance(holder_doc, dict):
            self.pruner.prune_later(holder, holder_doc)
        if not result.modified_count:
            stored = await self.ledger.find_one({"_id": doc["_id"]})
            if stored is not None and stored["state"] == APPLIED:
                return entry_from_doc(stored)
        return entry_from_doc({**doc, **applied})

    def _rejection(
        self, new: NewEntry, doc: Document, current: Document | None, free_tier_period: str | None
    ) -> Exception:
        """Why the update did not apply: a LeadmeshError for the caller, FreeTierDue, or _Retry
        when the holder has changed since and the update may now apply."""
        needed = -doc["amount"]
        if new.draws_on_reservation:
            if current is None or current.get("account_id") != new.account_id:
                return NotFound(f"reservation {new.reservation_id} not found", reason="RESERVATION_NOT_FOUND")
            if current.get("state") != "open":
                return FailedPrecondition(
                    f"reservation {new.reservation_id} is {current.get('state')}", reason="RESERVATION_CLOSED"
                )
            if current["remaining"] >= needed:
                return _Retry()
            return FailedPrecondition(
                f"reservation {new.reservation_id} has {current['remaining']} credits left, {needed} needed",
                reason="INSUFFICIENT_CREDITS",
                metadata={"remaining": str(current["remaining"]), "required": str(needed)},
            )
        if current is None:
            return NotFound(f"account {new.account_id} not found", reason="ACCOUNT_NOT_FOUND")
        if free_tier_period and current.get("free_tier_period") != free_tier_period:
            return FreeTierDue(new.account_id)
        if needed <= 0 or current["balance"] >= needed:
            return _Retry()
        return FailedPrecondition(
            f"insufficient credits: balance {current['balance']}, {needed} needed",
            reason="INSUFFICIENT_CREDITS",
            metadata={"balance": str(current["balance"]), "required": str(needed)},
        )
