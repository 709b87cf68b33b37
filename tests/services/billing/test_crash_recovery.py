"""Postings a dead process left half done, rebuilt step by step with Postings' own steps.

``Postings.post`` inserts the entry as pending, applies it to its holder (marking
``inflight.<attempt>`` there) and marks the entry applied; old marks are pruned later, behind a
floor. A crash can stop it after any step; these tests stop it there and check what a retry,
``recover`` and a restarted server make of what was left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.errors import FailedPrecondition
from libs.mongo import Document
from services.billing import marks
from services.billing.app import create_server
from services.billing.domain import EntryKind, NewEntry, ReservationState, billing_period, reservation_id_for
from services.billing.ledger import CreditLedger
from services.billing.marks import PRUNE_AT, UNSET_AT_ONCE
from services.billing.postings import Postings
from services.billing.repository import BillingRepository
from services.billing.settings import BillingSettings
from tests import grpc_callers

FREE_TIER = 30
# How long ago the process died. The embedded store compares dates to the whole second, so an
# entry from this very second is not yet "older than" anything; two seconds ago always is.
DIED_A_MOMENT_AGO = timedelta(seconds=2)


@dataclass
class Store:
    repository: BillingRepository
    ledger: CreditLedger
    account_id: str

    @property
    def postings(self) -> Postings:
        return self.repository.postings

    def charge(self, key: str, amount: int) -> NewEntry:
        return NewEntry(self.account_id, key, EntryKind.CHARGE, -amount, "lookup")

    async def balance(self) -> int:
        account = await self.repository.get_account(self.account_id)
        assert account is not None
        return account.balance

    async def inflight_marks(self) -> dict[str, object]:
        doc = await self.repository.accounts.find_one({"_id": self.account_id})
        assert doc is not None
        marks: dict[str, object] = doc.get("inflight", {})
        return marks

    async def entry_state(self, entry_id: str) -> str:
        doc = await self.repository.ledger.find_one({"_id": entry_id})
        assert doc is not None
        state: str = doc["state"]
        return state

    async def visible_entries(self) -> list[tuple[str, int]]:
        entries = await self.repository.list_entries(self.account_id, None, 100)
        return sorted((e.idempotency_key, e.amount) for e in entries)

    async def crash_after_insert(self, new: NewEntry, *, age: timedelta = DIED_A_MOMENT_AGO) -> Document:
        """Step 1 only: the entry is stored as pending; the process dies before applying it."""
        doc = self.postings._new_doc(new)
        doc["create_time"] -= age
        await self.postings.ledger.insert_one(doc)
        return doc

    async def crash_after_apply(self, new: NewEntry, *, age: timedelta = DIED_A_MOMENT_AGO) -> Document:
        """Steps 1 and 2: applied to the account with its in-flight mark, never marked applied."""
        doc = await self.crash_after_insert(new, age=age)
        period = billing_period(self.ledger.clock())
        assert await self.postings._apply(doc, self.postings._holder(new, period)) is not None
        return doc


def utc_now() -> datetime:
    return datetime.now(UTC)


@pytest_asyncio.fixture
async def store(db: AsyncDatabase[Document]) -> AsyncIterator[Store]:
    """An account holding its free tier of this month, nothing else."""
    repository = BillingRepository(db)
    await repository.ensure_indexes()
    ledger = CreditLedger(repository, FREE_TIER, clock=utc_now)
    account_id = (await repository.insert_account("Acme")).account_id
    assert (await ledger.balance(account_id)).balance == FREE_TIER
    yield Store(repository, ledger, account_id)


# (a) applied to the account, never marked applied


async def test_the_crash_state_after_applying_is_debited_and_marked_in_flight(store: Store) -> None:
    doc = await store.crash_after_apply(store.charge("req-1", 7))
    assert await store.balance() == FREE_TIER - 7
    assert doc["attempt"] in await store.inflight_marks()
    assert await store.entry_state(doc["_id"]) == "pending"


async def test_a_retried_charge_after_a_crash_past_applying_does_not_debit_again(store: Store) -> None:
    doc = await store.crash_after_apply(store.charge("req-1", 7))

    posted = await store.ledger.charge(store.account_id, "req-1", 7)

    assert posted.entry.entry_id == doc["_id"]
    assert posted.balance == FREE_TIER - 7
    assert await store.balance() == FREE_TIER - 7
    assert await store.visible_entries() == sorted([("req-1", -7), (grant_key(), FREE_TIER)])
    assert await store.entry_state(doc["_id"]) == "applied"

    again = await store.ledger.charge(store.account_id, "req-1", 7)
    assert again.replayed and again.balance == FREE_TIER - 7
    assert await store.balance() == FREE_TIER - 7


async def test_recover_finishes_an_entry_that_was_applied(store: Store) -> None:
    doc = await store.crash_after_apply(store.charge("req-1", 7))

    assert await store.postings.recover(older_than=timedelta(0)) == 1

    assert await store.entry_state(doc["_id"]) == "applied"
    assert await store.balance() == FREE_TIER - 7
    entries = await store.repository.list_entries(store.account_id, None, 100)
    [charge] = [e for e in entries if e.kind == EntryKind.CHARGE]
    assert (charge.entry_id, charge.amount, charge.balance_after) == (doc["_id"], -7, FREE_TIER - 7)

    retried = await store.ledger.charge(store.account_id, "req-1", 7)
    assert retried.replayed and retried.balance == FREE_TIER - 7
    assert await store.postings.recover(older_than=timedelta(0)) == 0


# (b) stored as pending, never applied


async def test_recover_rejects_an_entry_that_was_never_applied(store: Store) -> None:
    doc = await store.crash_after_insert(store.charge("req-1", 7))

    assert await store.postings.recover(older_than=timedelta(0)) == 1

    assert await store.entry_state(doc["_id"]) == "rejected"
    assert await store.balance() == FREE_TIER
    assert await store.visible_entries() == [(grant_key(), FREE_TIER)]
    assert await store.postings.recover(older_than=timedelta(0)) == 0


async def test_a_charge_lost_before_applying_can_be_retried_and_debits_once(store: Store) -> None:
    await store.crash_after_insert(store.charge("req-1", 7))
    await store.postings.recover(older_than=timedelta(0))

    first = await store.ledger.charge(store.account_id, "req-1", 7)
    second = await store.ledger.charge(store.account_id, "req-1", 7)

    assert (first.balance, second.balance, second.replayed) == (FREE_TIER - 7, FREE_TIER - 7, True)
    assert await store.balance() == FREE_TIER - 7
    assert await store.visible_entries() == sorted([("req-1", -7), (grant_key(), FREE_TIER)])


async def test_recover_leaves_postings_that_may_still_be_running_alone(store: Store) -> None:
    doc = await store.crash_after_insert(store.charge("req-1", 7))
    assert await store.postings.recover() == 0
    assert await store.entry_state(doc["_id"]) == "pending"


# a process that stalls rather than dies


async def test_a_retry_that_saw_the_entry_pending_does_not_apply_it_again_once_finished(store: Store) -> None:
    """Request A posts; request B (same key) reads the entry while A has it pending; A finishes;
    B carries on with applying. The account must be debited once."""
    new = store.charge("req-1", 7)
    holder = store.postings._holder(new, billing_period(store.ledger.clock()))
    first = store.postings._new_doc(new)
    await store.postings.ledger.insert_one(first)  # A, step 1
    after_a = await store.postings._apply(first, holder)  # A, step 2
    seen_by_retry = await store.postings._existing(new)  # B finds it pending
    assert seen_by_retry["state"] == "pending"
    assert after_a is not None
    await store.postings._finish(first, holder, after_a)  # A, step 3

    assert await store.postings._apply(seen_by_retry, holder) is None  # B, step 2
    assert await store.balance() == FREE_TIER - 7


@pytest.mark.parametrize("count", [PRUNE_AT + 1, 3 * UNSET_AT_ONCE + 7])
async def test_pruned_attempts_can_never_apply_again(store: Store, count: int) -> None:
    """Once a holder has many marks, those older than PRUNE_AGE are dropped behind a floor: an
    attempt below the floor is refused for good, and an entry whose mark is pruned is applied.
    However many they are (the embedded store ignores an $unset of too many fields at once)."""
    crashed = await store.crash_after_apply(store.charge("crashed", 2))
    hour_ago = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    aged = [f"at_{hour_ago:012x}{n:04d}" for n in range(count)]
    await store.repository.ledger.update_one({"_id": crashed["_id"]}, {"$set": {"attempt": aged[0]}})
    marks = {attempt: f"le_other_{n}" for n, attempt in enumerate(aged)} | {aged[0]: crashed["_id"]}
    await store.repository.accounts.update_one({"_id": store.account_id}, {"$set": {"inflight": marks}})

    posted = await store.ledger.charge(store.account_id, "trigger", 1)
    await store.postings.settled()  # the charge answered before its prune ran

    assert posted.balance == FREE_TIER - 3
    account = await store.repository.accounts.find_one({"_id": store.account_id})
    assert account is not None
    assert account["floor"] == max(aged)
    assert not set(aged) & set(account["inflight"])
    assert await store.entry_state(crashed["_id"]) == "applied"
    holder = store.postings._holder(store.charge("x", 1), billing_period(store.ledger.clock()))
    assert (
        await store.postings._apply({"_id": "le_other_3", "attempt": aged[3], "amount": -1}, holder) is None
    )
    assert await store.balance() == FREE_TIER - 3


# a restarted server


async def test_a_restarted_server_finishes_what_the_crash_left(
    store: Store, db: AsyncDatabase[Document]
) -> None:
    applied = await store.crash_after_apply(store.charge("req-applied", 5), age=timedelta(minutes=5))
    lost = await store.crash_after_insert(store.charge("req-lost", 4), age=timedelta(minutes=5))

    server = await create_server(db, BillingSettings(shutdown_grace=1), "127.0.0.1:0")
    port = await server.start()
    try:
        async with grpc_callers.channel(f"127.0.0.1:{port}") as channel:
            billing = pb_grpc.BillingServiceStub(channel)
            balance = await billing.GetBalance(pb.GetBalanceRequest(account_id=store.account_id), timeout=10)
            ledger = await billing.ListLedgerEntries(
                pb.ListLedgerEntriesRequest(account_id=store.account_id), timeout=10
            )
            retried = await billing.Charge(
                pb.ChargeRequest(account_id=store.account_id, idempotency_key="req-applied", amount=5),
                timeout=10,
            )
    finally:
        await server.stop()

    assert balance.balance == FREE_TIER - 5
    assert sorted(e.idempotency_key for e in ledger.entries) == sorted([grant_key(), "req-applied"])
    assert retried.replayed and retried.balance == FREE_TIER - 5
    assert await store.entry_state(applied["_id"]) == "applied"
    assert await store.entry_state(lost["_id"]) == "rejected"
    marks = await store.inflight_marks()
    assert applied["attempt"] in marks and lost["attempt"] not in marks


def grant_key() -> str:
    return f"lm:free_tier:{billing_period(utc_now())}"


# interleavings found in review


async def test_a_retry_of_a_rejected_charge_that_dies_after_applying_is_recovered(store: Store) -> None:
    """Rejected for credits, topped up, retried, and the retry dies after taking the credits: the
    ledger must end up showing the charge, not a rejection."""
    new = store.charge("big", 31)
    holder = store.postings._holder(new, billing_period(store.ledger.clock()))
    doc = await store.crash_after_insert(new)  # stored a moment ago ...
    with pytest.raises(FailedPrecondition):  # ... and rejected for credits
        await store.postings._settle(doc, holder, new, None)
    assert await store.entry_state(doc["_id"]) == "rejected"
    await store.ledger.add_credits(store.account_id, "topup", 10)
    doc = await store.postings._existing(new)
    with pytest.raises(_Died):
        await _die_after_apply(store.postings, store.postings._settle(doc, holder, new, None))
    assert await store.entry_state(doc["_id"]) == "pending"

    assert await store.postings.recover(older_than=timedelta(seconds=1)) == 1

    assert await store.entry_state(doc["_id"]) == "applied"
    assert await store.balance() == 9
    assert sum(amount for _, amount in await store.visible_entries()) == 9


async def test_young_marks_are_not_pruned_one_charge_at_a_time(
    store: Store, spans: InMemorySpanExporter, db: AsyncDatabase[Document]
) -> None:
    """A busy account always has many young marks; a charge then still takes its three store
    commands (insert, apply, finish): pruning waits for PRUNE_AT old marks."""
    await store.ledger.add_credits(store.account_id, "topup", 1000)
    for n in range(2 * PRUNE_AT):
        await store.ledger.charge(store.account_id, f"busy-{n}", 1)
    await store.postings.settled()
    spans.clear()

    posted = await store.ledger.charge(store.account_id, "one-more", 1)
    await store.postings.settled()  # a prune it started would show here

    commands = [
        span.attributes["db.operation.name"]
        for span in spans.get_finished_spans()
        if span.attributes is not None and span.attributes.get("db.namespace") == db.name
    ]
    assert commands == ["insert", "findAndModify", "update"], commands
    assert posted.balance == FREE_TIER + 1000 - 2 * PRUNE_AT - 1


async def test_a_charge_answers_before_the_prune_it_starts(
    store: Store, spans: InMemorySpanExporter, db: AsyncDatabase[Document]
) -> None:
    """Pruning is housekeeping: the charge that finds PRUNE_AT old marks answers after its own
    three commands, and the prune follows in the background."""
    hour_ago = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    aged = {f"at_{hour_ago:012x}{n:04d}": f"le_other_{n}" for n in range(PRUNE_AT)}
    await store.repository.accounts.update_one({"_id": store.account_id}, {"$set": {"inflight": aged}})
    spans.clear()

    posted = await store.ledger.charge(store.account_id, "trigger", 1)

    def commands() -> list[object]:
        return [
            span.attributes["db.operation.name"]
            for span in spans.get_finished_spans()
            if span.attributes is not None and span.attributes.get("db.namespace") == db.name
        ]

    assert commands() == ["insert", "findAndModify", "update"]
    assert posted.balance == FREE_TIER - 1
    await store.postings.settled()
    assert commands()[3:] == ["find", "update"]  # the entries the marks name, then the holder
    account = await store.repository.accounts.find_one({"_id": store.account_id})
    assert account is not None and not set(aged) & set(account["inflight"])


async def test_the_floor_never_goes_down(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mark left below the floor by a concurrent apply must not become the next floor: that
    would let every pruned attempt above it apply a second time."""
    await store.ledger.add_credits(store.account_id, "topup", 1000)
    period = billing_period(store.ledger.clock())
    holder = store.postings._holder(store.charge("x", 1), period)
    hour_ago = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    aged = []
    for n in range(PRUNE_AT + 1):
        doc = store.postings._new_doc(store.charge(f"old-{n}", 1))
        doc["attempt"] = f"at_{hour_ago + 10 + n:012x}zz"
        await store.postings.ledger.insert_one(doc)
        assert await store.postings._apply(doc, holder) is not None
        await store.postings._finish(doc, holder, 0)
        aged.append(doc)
    stalled = dict(aged[5], state="pending")  # a retry that read this entry pending, then stalled
    early = store.postings._new_doc(store.charge("was-rejected", 1))
    early["attempt"], early["state"] = f"at_{hour_ago:012x}aa", "rejected"
    await store.postings.ledger.insert_one(early)

    trigger = store.postings._new_doc(store.charge("trigger", 1))
    await store.postings.ledger.insert_one(trigger)
    snapshot = await store.postings._apply(trigger, holder)  # the prune will work from this
    assert snapshot is not None
    assert (
        await store.postings._apply(early, holder) is not None
    )  # applies meanwhile, below the floor to come
    await store.postings._finish(early, holder, 0)
    await store.postings._finish(trigger, holder, snapshot)  # prune 1
    await store.postings.settled()
    floor_after_first = (await store.repository.accounts.find_one({"_id": store.account_id}))["floor"]  # type: ignore[index]
    monkeypatch.setattr(marks, "PRUNE_AGE", timedelta(0))  # the burst's own marks count as old
    for n in range(PRUNE_AT + 1):
        await store.postings.post(store.charge(f"burst-{n}", 1))  # prune 2
    await store.postings.settled()
    account = await store.repository.accounts.find_one({"_id": store.account_id})
    assert account is not None
    assert account["floor"] >= floor_after_first
    before = account["balance"]

    assert await store.postings._apply(stalled, holder) is None
    assert await store.balance() == before


async def test_a_lagging_clock_still_gets_an_attempt_above_the_floor(store: Store) -> None:
    """Another replica whose clock runs ahead raised the floor; this one's new attempts are below
    it, so they are renewed above it and the charge goes through."""
    far_ahead = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp() * 1000)
    await store.repository.accounts.update_one(
        {"_id": store.account_id}, {"$set": {"floor": f"at_{far_ahead:012x}"}}
    )
    posted = await store.ledger.charge(store.account_id, "late", 4)
    assert posted.balance == FREE_TIER - 4 and not posted.replayed
    assert await store.balance() == FREE_TIER - 4


async def test_a_hold_posted_but_never_funded_is_funded_by_the_retry_or_by_recover(store: Store) -> None:
    reservation_id = reservation_id_for(store.account_id, "job:j1")
    reservation = await store.repository.create_reservation(store.account_id, reservation_id, "job:j1", 10)
    await store.ledger._post_to_account(store.ledger._hold(reservation))  # the process dies here
    assert await store.balance() == FREE_TIER - 10

    await _age_reservation(store, reservation_id)
    assert await store.ledger.recover(older_than=timedelta(seconds=1)) == 1
    funded = await store.ledger.reservation(store.account_id, reservation_id)
    assert (funded.funded, funded.remaining) == (True, 10)

    again, balance, replayed = await store.ledger.reserve(store.account_id, "job:j1", 10)
    assert (again.remaining, balance, replayed) == (10, FREE_TIER - 10, True)


async def test_a_reservation_closed_but_never_refunded_is_refunded_by_recover(store: Store) -> None:
    reservation, _, _ = await store.ledger.reserve(store.account_id, "job:j2", 10)
    await store.ledger.charge_reservation(store.account_id, reservation.reservation_id, "job:j2:row:1", 3)
    await store.repository.close_reservation(
        store.account_id, reservation.reservation_id, ReservationState.SETTLED
    )
    assert await store.balance() == FREE_TIER - 10  # the process died before the refund

    await _age_reservation(store, reservation.reservation_id)
    assert await store.ledger.recover(older_than=timedelta(seconds=1)) == 1
    assert await store.balance() == FREE_TIER - 3
    assert await store.ledger.recover(older_than=timedelta(seconds=1)) == 0
    assert await store.balance() == FREE_TIER - 3


class _Died(Exception):
    pass


async def _die_after_apply(postings: Postings, settle: Coroutine[Any, Any, object]) -> None:
    """Runs ``settle`` with step 3 replaced by a crash."""

    async def crash(*args: object, **kwargs: object) -> NoReturn:
        raise _Died

    original = postings._finish
    postings._finish = crash  # type: ignore[method-assign]
    try:
        await settle
    finally:
        postings._finish = original  # type: ignore[method-assign]


async def _age_reservation(store: Store, reservation_id: str) -> None:
    await store.repository.reservations.update_one(
        {"_id": reservation_id}, {"$set": {"create_time": utc_now() - timedelta(minutes=5)}}
    )
