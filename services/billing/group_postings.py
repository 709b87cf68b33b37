"""Many entries posted at once, each exactly once (the protocol is described in
:mod:`services.billing.postings`): a batch of charges on one reservation
(:meth:`GroupPostings.post_batch`) and independent charges of one account made at the same time
(:meth:`GroupPostings.post_together`). Their entries share one attempt and their ids are a common
prefix followed by their position, so one insert stores them, one update of the holder applies
them all and sets one mark naming exactly them, and one write marks them applied. When that
cannot be (a retried key, a holder that does not cover them all) each entry goes the single-entry
path of :class:`services.billing.entry_postings.EntryPostings`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError

from libs.errors import LeadmeshError
from libs.ids import new_id
from libs.mongo import Document
from services.billing.domain import FreeTierDue, LedgerEntry, NewEntry
from services.billing.entry_postings import EntryPostings, entry_from_doc
from services.billing.marks import APPLIED, GROUP_DIGITS, PENDING, REJECTED, Holder, attempt_id

__all__ = ["GroupPostings"]

DUPLICATE_KEY = 11000


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


class GroupPostings(EntryPostings):
    """The single-entry path, and entries posted together on one holder."""

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
