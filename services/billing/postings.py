"""Exactly-once posting of credit movements without multi-document transactions.

A movement is a ledger entry, unique on ``(account_id, idempotency_key)``, applied to a *holder*
document: the account (its ``balance``) or a reservation (its ``remaining``). Each attempt to
apply an entry has an ``attempt`` id (time-ordered). Posting:

1. insert the entry ``pending`` (a duplicate key means a retry: finish or replay the first);
2. apply it in one conditional update of the holder that also sets the mark
   ``inflight.<attempt>`` (to the entry's id); the update requires the mark to be absent, the
   holder's ``floor`` to be below the attempt and, for a debit, enough credits: an attempt is
   applied at most once and never takes a balance below zero;
3. mark the entry ``applied`` (a mark on the holder proves it was).

Marks are not removed one by one: :class:`services.billing.marks.MarkPruner` prunes old ones in
the background and raises the holder's ``floor`` above them, so those attempts never apply again.
A crash leaves at worst a pending entry: its retry, or :meth:`Postings.recover`, finishes it.
Single-document atomic updates are all this needs, on a standalone MongoDB as on a replica set.

:meth:`Postings.post_batch` posts many charges on one reservation the same way, step by step for
all of them at once. Their entries share one attempt, and their ids are a common prefix followed by
their position in the batch. So one insert stores them, one update of the reservation applies them
all and sets one mark, ``{"group": <prefix>, "size": <n>}``, naming exactly the entries it applied,
and one write marks them applied. :meth:`Postings.post_together` does the same for independent
charges of one account made at the same time (the ledger coalesces them), each with its own outcome.

A mark proves that the entries it names were applied, and no other: an entry whose attempt is
marked without naming it was not applied by that attempt, and that attempt can never apply again
(its mark is there), so the entry is safely given a new attempt. This is how an entry of a batch
that could not be applied as a whole is then posted on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from libs.errors import Conflict, FailedPrecondition, LeadmeshError, NotFound
from libs.ids import new_id, random_base62
from libs.mongo import Document, utc_now
from services.billing.domain import EntryKind, FreeTierDue, LedgerEntry, NewEntry
from services.billing.marks import (
    APPLIED,
    GROUP_DIGITS,
    PENDING,
    REJECTED,
    Holder,
    MarkPruner,
    applied_by_mark,
    attempt_id,
)

__all__ = ["Postings", "entry_from_doc", "new_holder_fields"]

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
MAX_ROUNDS = 4
# A retry that finds its entry applied by a group still being finished waits this long for the
# group's poster to finish it (with the balance right after it) before finishing it itself.
GROUP_FINISH_POLL = 0.02
GROUP_FINISH_POLLS = 25
# recover() looks this far back for unfinished entries (rejected ones stay rejected unless a mark
# proves otherwise, so the window only bounds the scan).
RECOVERY_WINDOW = timedelta(days=2)


class _Retry(Exception):
    """The holder changed between the failed update and the look at why; try again."""


def new_holder_fields() -> Document:
    """The fields a holder document starts with."""
    return {"inflight": {}, "floor": ""}


def _check_batch(news: Sequence[NewEntry]) -> None:
    if not 0 < len(news) <= 10**GROUP_DIGITS:
        raise ValueError(f"a batch holds 1 to {10**GROUP_DIGITS} entries")
    first = news[0]
    if len({new.idempotency_key for new in news}) != len(news):
        raise ValueError("the keys of a batch must be distinct")
    for new in news:
        if new.amount >= 0:
            raise ValueError("a batch holds charges")
        holder = (new.account_id, new.reservation_id, new.draws_on_reservation)
        if holder != (first.account_id, first.reservation_id, first.draws_on_reservation):
            raise ValueError("the charges of a batch draw on one holder")


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


class Postings:
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

    async def post_batch(self, news: Sequence[NewEntry]) -> AsyncIterator[tuple[LedgerEntry, bool]]:
        """Posts charges on one reservation as ``post`` would one after the other, in request
        order; yields each entry and whether it had been posted before.

        When every key is new to the ledger, one update of the reservation applies them all.
        Otherwise (a retried batch), or when that update does not apply (not enough left, a closed
        reservation, a concurrent change), the entries are posted one by one: an error stops the
        batch there, the entries yielded before it stand, and the new ones after it are rejected
        (pending ones to be exact) so that a retry of their keys posts them.
        """
        docs = self.new_batch_docs(news)
        fresh = await self._insert_pending(docs)
        if all(fresh) and (entries := await self._post_group(docs, news, None)) is not None:
            for entry in entries:
                yield entry, False
            return
        done = 0
        try:
            for doc, new, is_fresh in zip(docs, news, fresh, strict=True):
                yield await (self._post_inserted(doc, new) if is_fresh else self._post_existing(new))
                done += 1
        except LeadmeshError:
            await self._reject_pending([doc for n, doc in enumerate(docs) if n > done and fresh[n]])
            raise

    async def post_together(
        self, news: Sequence[NewEntry], *, free_tier_period: str | None = None
    ) -> list[tuple[LedgerEntry, bool] | LeadmeshError | FreeTierDue]:
        """Posts independent charges on one holder (concurrent charges of an account), each as
        ``post`` would: its entry and whether it had been posted before, or why it was not.

        When every key is distinct and new to the ledger and the holder covers them all, that is
        three writes for all of them, as in :meth:`post_batch`. Otherwise each is posted on its own,
        in order, and one's failure (INSUFFICIENT_CREDITS, FreeTierDue, ...) is not the others'."""
        if len({new.idempotency_key for new in news}) != len(news):  # a retry racing its first try
            return [await self._outcome(self.post(new, free_tier_period=free_tier_period)) for new in news]
        docs = self.new_batch_docs(news)
        fresh = await self._insert_pending(docs)
        if all(fresh) and (entries := await self._post_group(docs, news, free_tier_period)) is not None:
            return [(entry, False) for entry in entries]
        return [
            await self._outcome(
                self._post_inserted(doc, new, free_tier_period)
                if is_fresh
                else self._post_existing(new, free_tier_period)
            )
            for doc, new, is_fresh in zip(docs, news, fresh, strict=True)
        ]

    async def _post_group(
        self, docs: list[Document], news: Sequence[NewEntry], free_tier_period: str | None
    ) -> list[LedgerEntry] | None:
        """Steps 2 and 3 of a group's stored ``docs``, all applied by one update of their holder;
        None when that update did not apply (nothing applied)."""
        holder = self._holder(news[0], free_tier_period)
        holder_doc = await self._apply_all(docs, holder, news)
        if holder_doc is None:
            return None
        return await self._finish_all(docs, holder, holder_doc)

    @staticmethod
    async def _outcome(
        posting: Awaitable[tuple[LedgerEntry, bool]],
    ) -> tuple[LedgerEntry, bool] | LeadmeshError | FreeTierDue:
        try:
            return await posting
        except (LeadmeshError, FreeTierDue) as error:
            return error

    def new_batch_docs(self, news: Sequence[NewEntry]) -> list[Document]:
        """Step 1's documents of a batch: one attempt, ids <prefix><position>."""
        _check_batch(news)
        prefix, attempt = new_id("le"), attempt_id()
        return [
            {**self._new_doc(new), "_id": f"{prefix}{n:0{GROUP_DIGITS}d}", "attempt": attempt}
            for n, new in enumerate(news)
        ]

    async def _insert_pending(self, docs: list[Document]) -> list[bool]:
        """Step 1 for all of ``docs``: whether each was inserted (False: its key was there)."""
        try:
            await self.ledger.insert_many(docs, ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if any(item.get("code") != DUPLICATE_KEY for item in errors):
                raise
            duplicates = {item["index"] for item in errors}
            return [n not in duplicates for n in range(len(docs))]
        return [True] * len(docs)

    async def _apply_all(
        self, docs: list[Document], holder: Holder, news: Sequence[NewEntry]
    ) -> Document | None:
        """Step 2 of a batch's ``docs`` (see :meth:`new_batch_docs`) in one update setting one
        mark: the holder after it, or None when it did not apply."""
        attempt, prefix = docs[0]["attempt"], docs[0]["_id"][:-GROUP_DIGITS]
        total = sum(doc["amount"] for doc in docs)
        inc = {holder.field: total}
        for new in news:
            for field, amount in self._holder(new, None).extra_inc.items():
                inc[field] = inc.get(field, 0) + amount
        query: dict[str, Any] = {
            "_id": holder.holder_id,
            "floor": {"$lt": attempt},
            holder.field: {"$gte": -total},
            **holder.guard,
            f"inflight.{attempt}": {"$exists": False},
        }
        updated: Document | None = await holder.collection.find_one_and_update(
            query,
            {"$inc": inc, "$set": {f"inflight.{attempt}": {"group": prefix, "size": len(docs)}}},
            projection={holder.field: 1, "inflight": 1, "floor": 1},
            return_document=ReturnDocument.AFTER,
        )
        return updated

    async def _finish_all(
        self, docs: list[Document], holder: Holder, holder_doc: Document
    ) -> list[LedgerEntry]:
        """Step 3 of ``docs`` applied together: each with the balance right after it and a
        sort key in request order. Then pruning, as :meth:`_finish` does."""
        balance = int(holder_doc[holder.field]) - sum(doc["amount"] for doc in docs)
        base, width = new_id("ls"), len(str(len(docs)))
        updates, entries = [], []
        for n, doc in enumerate(docs):
            balance += doc["amount"]
            applied = {"state": APPLIED, "balance_after": balance, "sort_key": f"{base}{n:0{width}d}"}
            mine = {"_id": doc["_id"], "attempt": doc["attempt"], "state": {"$ne": APPLIED}}
            updates.append(UpdateOne(mine, {"$set": applied}))
            entries.append(entry_from_doc({**doc, **applied}))
        written = await self.ledger.bulk_write(updates, ordered=False)
        self.pruner.prune_later(holder, holder_doc)
        if written.modified_count < len(docs):  # a retry that gave up waiting finished some first
            ids = [doc["_id"] for doc in docs]
            stored = {doc["_id"]: doc async for doc in self.ledger.find({"_id": {"$in": ids}})}
            entries = [entry_from_doc(stored[entry.entry_id]) for entry in entries]
        return entries

    async def _reject_pending(self, docs: list[Document]) -> None:
        """Entries of a stopped batch never applied: rejected, like a charge that failed (a mark
        set meanwhile by a retry of the key still wins, as for any rejected entry)."""
        if docs:
            await self.ledger.update_many(
                {"_id": {"$in": [doc["_id"] for doc in docs]}, "state": PENDING},
                {"$set": {"state": REJECTED}},
            )

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

    async def recover(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Finishes entries a crash or a cancelled call left unfinished: an entry whose mark is on
        its holder is applied; a pending one without is rejected (a retry of its key can still
        apply it). Looks at entries of the last RECOVERY_WINDOW."""
        now = utc_now()
        query = {"state": {"$in": [PENDING, REJECTED]}, "create_time": {"$gte": now - RECOVERY_WINDOW}}
        finished = 0
        async for doc in self.ledger.find(query):
            if doc["create_time"] >= now - older_than:
                continue
            holder = self._holder_of(doc)
            current = await holder.collection.find_one(
                {"_id": holder.holder_id}, {holder.field: 1, "inflight": 1}
            )
            if applied_by_mark(doc, current):
                assert current is not None
                await self._finish(doc, holder, int(current[holder.field]))
                finished += 1
            elif doc["state"] == PENDING:
                await self.ledger.update_one(
                    {"_id": doc["_id"], "attempt": doc["attempt"], "state": PENDING},
                    {"$set": {"state": REJECTED}},
                )
                finished += 1
        if finished:
            log.info("recovered unfinished ledger entries", extra={"count": finished})
        return finished

    def _holder_of(self, doc: Document) -> Holder:
        if doc["holder"] == "reservation":
            return Holder(self.reservations, doc["reservation_id"], "remaining", {}, {})
        return Holder(self.accounts, doc["account_id"], "balance", {}, {})
