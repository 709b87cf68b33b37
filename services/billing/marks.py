"""The marks postings leave on holders, and their pruning (see :mod:`services.billing.postings`).

A holder's ``inflight`` maps each attempt that applied entries to its mark: one entry's id, or a
group's ``{"group": <prefix>, "size": <n>}`` naming the entries ``<prefix>000`` and on. A mark
proves that the entries it names were applied, and no other. Marks are not removed one by one (a
slow concurrent retry could then apply the attempt again): :class:`MarkPruner` removes the marks of
old, finished attempts and raises the holder's ``floor`` above them in the same update, so those
attempts can never apply again. It runs in the background once a posting finds PRUNE_AT old marks,
so no posting waits for it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from libs.ids import new_id
from libs.mongo import Document, utc_now

__all__ = [
    "APPLIED",
    "GROUP_DIGITS",
    "PENDING",
    "PRUNE_AT",
    "REJECTED",
    "UNSET_AT_ONCE",
    "Holder",
    "MarkPruner",
    "applied_by_mark",
    "attempt_id",
    "group_ids",
    "marked_entries",
    "new_holder_fields",
]

log = logging.getLogger(__name__)

# The states of a ledger entry on its way to its holder.
PENDING, APPLIED, REJECTED = "pending", "applied", "rejected"
# The entries of a group are <prefix><position>, the position in this many digits.
GROUP_DIGITS = 3
# Once a holder has PRUNE_AT marks of attempts older than PRUNE_AGE, those go (two store commands
# per PRUNE_AT postings, not per posting, however busy the holder). Pruning is always safe (the
# floor refuses the pruned attempts); it is kept off the newest attempts only because a posting
# still under way below the floor must renew its attempt, a few round trips.
# An account's charge applies a few milliseconds after its attempt is made, and a busy account
# gathers a mark per charge (each one costs its findAndModify ~2 us of store CPU): 0.5 s. A
# reservation gets one mark per batch, and a batch of up to 1,000 entries takes longer from attempt
# to apply (whose renewal would post it one entry at a time): 5 s.
PRUNE_AGE = timedelta(seconds=0.5)
RESERVATION_PRUNE_AGE = timedelta(seconds=5)
PRUNE_AT = 32
# Fields one $unset removes: the embedded store silently ignores an $unset of more than ~125
# fields (SQLite's limit on a function's arguments), while applying the rest of the update.
UNSET_AT_ONCE = 100


def attempt_id(at: datetime | None = None) -> str:
    """A new attempt's id (time-ordered), or the smallest id of an attempt made at ``at``."""
    if at is None:
        return new_id("at")
    return f"at_{int(at.timestamp() * 1000):012x}"


@dataclass(frozen=True)
class Holder:
    """A document that postings move credits on (an account's ``balance``, a reservation's
    ``remaining``): where it is, its field, what else a posting's update requires and changes."""

    collection: AsyncCollection[Document]
    holder_id: str
    field: str
    guard: dict[str, Any]
    extra_inc: dict[str, int]


def new_holder_fields() -> Document:
    """The fields a holder document starts with."""
    return {"inflight": {}, "floor": ""}


def group_ids(mark: Document) -> list[str]:
    return [f"{mark['group']}{n:0{GROUP_DIGITS}d}" for n in range(mark["size"])]


def marked_entries(mark: str | Document) -> list[str]:
    """The ids of the entries a mark names: one entry's id, or a batch's group."""
    return group_ids(mark) if isinstance(mark, dict) else [mark]


def applied_by_mark(doc: Document, holder_doc: Document | None) -> bool:
    """Whether the holder's mark of the entry's attempt names the entry."""
    mark = (holder_doc or {}).get("inflight", {}).get(doc["attempt"])
    return mark is not None and doc["_id"] in marked_entries(mark)


class MarkPruner:
    """Prunes holders' old marks in the background, one prune at a time per holder here."""

    def __init__(self, ledger: AsyncCollection[Document], reservations: AsyncCollection[Document]):
        self.ledger = ledger
        self.reservations = reservations
        # The prune under way per holder: it runs after the posting that found the marks has
        # answered (a posting never waits for it).
        self._under_way: dict[str, asyncio.Task[None]] = {}

    async def settled(self) -> None:
        """Waits for the prunes under way."""
        await asyncio.gather(*self._under_way.values(), return_exceptions=True)

    def prune_later(self, holder: Holder, holder_doc: Document) -> None:
        """Once PRUNE_AT marks are older than PRUNE_AGE (RESERVATION_PRUNE_AGE for a reservation)
        or below the floor, prunes them in the background (unless a prune of the holder is under
        way here)."""
        floor = holder_doc.get("floor", "")
        age = RESERVATION_PRUNE_AGE if holder.collection is self.reservations else PRUNE_AGE
        cutoff = attempt_id(utc_now() - age)
        old = [attempt for attempt in holder_doc.get("inflight", {}) if attempt < cutoff or attempt <= floor]
        if len(old) < PRUNE_AT or holder.holder_id in self._under_way:
            return
        # In a context of its own: not the posting's span, request id or logs.
        task = asyncio.get_running_loop().create_task(
            self._prune(holder, holder_doc, old), context=contextvars.Context()
        )
        self._under_way[holder.holder_id] = task
        task.add_done_callback(lambda done: self._pruned(holder.holder_id, done))

    def _pruned(self, holder_id: str, task: asyncio.Task[None]) -> None:
        self._under_way.pop(holder_id, None)
        if not task.cancelled() and task.exception() is not None:  # the next posting prunes again
            log.warning("pruning failed", exc_info=task.exception())

    async def _prune(self, holder: Holder, holder_doc: Document, old: list[str]) -> None:
        """Drops the marks of the ``old`` attempts, their entries finished first, and raises the
        floor above them (only if no other prune moved it since ``holder_doc``)."""
        floor = holder_doc.get("floor", "")
        named = [entry for attempt in old for entry in marked_entries(holder_doc["inflight"][attempt])]
        unfinished = self.ledger.find({"_id": {"$in": named}, "state": {"$ne": APPLIED}}, {"attempt": 1})
        async for entry in unfinished:  # a mark proves the attempt applied: finish it first
            await self.ledger.update_one(
                {"_id": entry["_id"], "attempt": entry["attempt"]},
                {"$set": {"state": APPLIED, "sort_key": new_id("ls")}},
            )
        first, rest = old[:UNSET_AT_ONCE], old[UNSET_AT_ONCE:]
        raised = await holder.collection.update_one(
            {"_id": holder.holder_id, "floor": floor},
            {"$set": {"floor": max([floor, *old])}, "$unset": {f"inflight.{a}": "" for a in first}},
        )
        # Below the floor now, the other marks are inert: they go in pieces.
        for start in range(0, len(rest) if raised.modified_count else 0, UNSET_AT_ONCE):
            piece = rest[start : start + UNSET_AT_ONCE]
            await holder.collection.update_one(
                {"_id": holder.holder_id}, {"$unset": {f"inflight.{attempt}": "" for attempt in piece}}
            )
