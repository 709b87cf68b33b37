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
The steps of one entry are in :mod:`services.billing.entry_postings`.

:meth:`Postings.post_batch` posts many charges on one reservation the same way, step by step for
all of them at once. Their entries share one attempt, and their ids are a common prefix followed by
their position in the batch. So one insert stores them, one update of the reservation applies them
all and sets one mark, ``{"group": <prefix>, "size": <n>}``, naming exactly the entries it applied,
and one write marks them applied. :meth:`Postings.post_together` does the same for independent
charges of one account made at the same time (the ledger coalesces them), each with its own outcome.
Both are in :mod:`services.billing.group_postings`.

A mark proves that the entries it names were applied, and no other: an entry whose attempt is
marked without naming it was not applied by that attempt, and that attempt can never apply again
(its mark is there), so the entry is safely given a new attempt. This is how an entry of a batch
that could not be applied as a whole is then posted on its own.

:class:`Postings` is the whole of it: the group path on the single-entry path, and here the
recovery of what crashes left.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from libs.mongo import Document, utc_now
from services.billing.group_postings import GroupPostings
from services.billing.marks import PENDING, REJECTED, Holder, applied_by_mark

__all__ = ["Postings"]

log = logging.getLogger(__name__)

# recover() looks this far back for unfinished entries (rejected ones stay rejected unless a mark
# proves otherwise, so the window only bounds the scan).
RECOVERY_WINDOW = timedelta(days=2)


class Postings(GroupPostings):
    """Exactly-once postings of entries alone or together, and their recovery."""

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
