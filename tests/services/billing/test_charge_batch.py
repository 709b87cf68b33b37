"""ChargeBatch: many charges on one reservation in a few writes, with the guarantees of Charge.

Through the real BillingService over gRPC and the embedded store; the crash tests rebuild what a
dead process left with Postings' own steps, as test_crash_recovery does for single postings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
import pytest_asyncio
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.errors import LeadmeshError, error_from_rpc
from libs.mongo import Document
from services.billing.domain import ChargeItem, NewEntry
from services.billing.ledger import CreditLedger
from services.billing.marks import PRUNE_AT
from services.billing.postings import Postings
from services.billing.repository import BillingRepository

FREE_TIER = 30
CREDITS = 1000


async def new_account(billing: pb_grpc.BillingServiceStub, credits: int = CREDITS) -> str:
    response = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme", initial_credits=credits))
    return response.account.account_id


async def reserve(billing: pb_grpc.BillingServiceStub, account_id: str, amount: int) -> str:
    response = await billing.Reserve(
        pb.ReserveRequest(account_id=account_id, idempotency_key="job:j1", amount=amount)
    )
    return response.reservation.reservation_id


def rows(*numbers: int, amount: int = 1) -> list[tuple[str, int]]:
    return [(f"job:j1:row:{n}", amount) for n in numbers]


async def charge_batch(
    billing: pb_grpc.BillingServiceStub,
    account_id: str,
    reservation_id: str,
    items: Sequence[tuple[str, int]],
) -> pb.ChargeBatchResponse:
    return await billing.ChargeBatch(
        pb.ChargeBatchRequest(
            account_id=account_id,
            reservation_id=reservation_id,
            items=[pb.ChargeBatchItem(idempotency_key=k, amount=a, description="row") for k, a in items],
        ),
        timeout=30,
    )


async def refused(call: Any) -> tuple[grpc.StatusCode, LeadmeshError]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), error_from_rpc(caught.value)


async def held(billing: pb_grpc.BillingServiceStub, account_id: str, reservation_id: str) -> tuple[int, int]:
    """(used, remaining) of the reservation."""
    response = await billing.GetReservation(
        pb.GetReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )
    return response.reservation.used, response.reservation.remaining


async def balance(billing: pb_grpc.BillingServiceStub, account_id: str) -> int:
    return (await billing.GetBalance(pb.GetBalanceRequest(account_id=account_id))).balance


async def row_charges(billing: pb_grpc.BillingServiceStub, account_id: str) -> list[pb.LedgerEntry]:
    """The account's reservation charges, newest first."""
    entries: list[pb.LedgerEntry] = []
    token = ""
    while True:
        page = await billing.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(account_id=account_id, page_size=100, page_token=token)
        )
        entries += page.entries
        token = page.next_page_token
        if not token:
            break
    return [e for e in entries if e.kind == pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE]


def summary(response: pb.ChargeBatchResponse) -> list[tuple[str, int, int, bool]]:
    """(key, amount, balance_after, replayed) of each result."""
    return [(r.idempotency_key, r.entry.amount, r.entry.balance_after, r.replayed) for r in response.results]


# charging


async def test_a_batch_charges_each_item_once_in_order(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 100)
    items = [("job:j1:row:1", 1), ("job:j1:row:2", 2), ("job:j1:row:3", 3), ("job:j1:row:4", 4)]

    response = await charge_batch(billing, account_id, reservation_id, items)

    assert summary(response) == [
        ("job:j1:row:1", -1, 99, False),
        ("job:j1:row:2", -2, 97, False),
        ("job:j1:row:3", -3, 94, False),
        ("job:j1:row:4", -4, 90, False),
    ]
    assert response.remaining == 90
    for result in response.results:
        assert result.entry.kind == pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE
        assert (result.entry.account_id, result.entry.reservation_id) == (account_id, reservation_id)
        assert result.entry.idempotency_key == result.idempotency_key
        assert result.entry.description == "row" and result.entry.HasField("create_time")
    assert await held(billing, account_id, reservation_id) == (10, 90)
    assert await balance(billing, account_id) == FREE_TIER + CREDITS - 100
    # The ledger shows the batch as it took effect: newest (the last item) first.
    listed = await row_charges(billing, account_id)
    assert [(e.idempotency_key, e.balance_after) for e in listed] == [
        ("job:j1:row:4", 90),
        ("job:j1:row:3", 94),
        ("job:j1:row:2", 97),
        ("job:j1:row:1", 99),
    ]
    assert [e.entry_id for e in listed] == [r.entry.entry_id for r in reversed(response.results)]


async def test_the_same_batch_again_is_replayed_and_charges_nothing(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 100)
    items = rows(*range(1, 21), amount=2)
    first = await charge_batch(billing, account_id, reservation_id, items)

    again = await charge_batch(billing, account_id, reservation_id, items)

    assert [r.replayed for r in again.results] == [True] * 20
    assert [r.entry for r in again.results] == [r.entry for r in first.results]
    assert first.remaining == again.remaining == 60
    assert await held(billing, account_id, reservation_id) == (40, 60)
    assert len(await row_charges(billing, account_id)) == 20


async def test_a_batch_overlapping_an_earlier_one_charges_only_the_new_keys(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 100)
    first = await charge_batch(billing, account_id, reservation_id, rows(1, 2, 3, 4))

    second = await charge_batch(billing, account_id, reservation_id, rows(3, 4, 5, 6))

    assert summary(second) == [
        ("job:j1:row:3", -1, 97, True),
        ("job:j1:row:4", -1, 96, True),
        ("job:j1:row:5", -1, 95, False),
        ("job:j1:row:6", -1, 94, False),
    ]
    assert [r.entry.entry_id for r in second.results[:2]] == [r.entry.entry_id for r in first.results[2:]]
    assert second.remaining == 94
    assert sorted(e.idempotency_key for e in await row_charges(billing, account_id)) == [
        f"job:j1:row:{n}" for n in range(1, 7)
    ]


async def test_new_keys_between_charged_ones_are_charged_in_request_order(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 100)
    await charge_batch(billing, account_id, reservation_id, rows(2, 4))  # remaining 98

    items = [*rows(1, amount=3), *rows(2), *rows(3, amount=3), *rows(4), *rows(5, amount=3)]

    response = await charge_batch(billing, account_id, reservation_id, items)

    assert summary(response) == [
        ("job:j1:row:1", -3, 95, False),
        ("job:j1:row:2", -1, 99, True),  # as first charged
        ("job:j1:row:3", -3, 92, False),
        ("job:j1:row:4", -1, 98, True),
        ("job:j1:row:5", -3, 89, False),
    ]
    assert response.remaining == 89
    assert await held(billing, account_id, reservation_id) == (11, 89)


async def test_the_existing_charge_and_the_batch_share_their_keys(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 100)
    single = await billing.Charge(
        pb.ChargeRequest(
            account_id=account_id, reservation_id=reservation_id, idempotency_key="job:j1:row:1", amount=1
        )
    )

    response = await charge_batch(billing, account_id, reservation_id, rows(1, 2))
    retried = await billing.Charge(
        pb.ChargeRequest(
            account_id=account_id, reservation_id=reservation_id, idempotency_key="job:j1:row:2", amount=1
        )
    )

    assert response.results[0].replayed and response.results[0].entry == single.entry
    assert retried.replayed and retried.entry == response.results[1].entry
    assert await held(billing, account_id, reservation_id) == (2, 98)


async def test_credits_charged_are_measured_once_per_key(
    billing: pb_grpc.BillingServiceStub, metric_reader: InMemoryMetricReader
) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 100)
    before = charged_metric(metric_reader)

    await charge_batch(billing, account_id, reservation_id, rows(1, 2, 3, amount=5))
    await charge_batch(billing, account_id, reservation_id, rows(2, 3, 4, amount=5))

    assert charged_metric(metric_reader) - before == 20


def charged_metric(reader: InMemoryMetricReader) -> int:
    data = reader.get_metrics_data()
    if data is None:
        return 0
    return sum(
        int(point.value)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "leadmesh.credits.charged"
        for point in metric.data.data_points
        if isinstance(point, NumberDataPoint)
        and point.attributes is not None
        and point.attributes["kind"] == "reservation_charge"
    )


# refusals


async def test_a_key_reused_with_another_amount_stops_the_batch_there(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 100)
    await charge_batch(billing, account_id, reservation_id, rows(1))

    code, error = await refused(
        charge_batch(billing, account_id, reservation_id, [*rows(2), ("job:j1:row:1", 5), *rows(3)])
    )

    assert code == grpc.StatusCode.ABORTED
    assert error.reason == "IDEMPOTENCY_KEY_REUSED"
    assert error.metadata == {"idempotency_key": "job:j1:row:1"}
    assert await held(billing, account_id, reservation_id) == (2, 98)  # row 1, and row 2 before it
    assert sorted(e.idempotency_key for e in await row_charges(billing, account_id)) == [
        "job:j1:row:1",
        "job:j1:row:2",
    ]
    # Row 3 was not charged, and charging it later works once.
    later = await charge_batch(billing, account_id, reservation_id, rows(2, 3))
    assert [r.replayed for r in later.results] == [True, False]
    assert later.remaining == 97


async def test_a_batch_beyond_the_reservation_charges_in_order_until_it_is_used_up(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 10)
    items = rows(1, 2, 3, 4, 5, 6, amount=3)

    code, error = await refused(charge_batch(billing, account_id, reservation_id, items))

    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "INSUFFICIENT_CREDITS"
    assert error.metadata == {"remaining": "1", "required": "3", "idempotency_key": "job:j1:row:4"}
    assert await held(billing, account_id, reservation_id) == (9, 1)
    assert [(e.idempotency_key, e.balance_after) for e in await row_charges(billing, account_id)] == [
        ("job:j1:row:3", 1),
        ("job:j1:row:2", 4),
        ("job:j1:row:1", 7),
    ]

    code, error = await refused(charge_batch(billing, account_id, reservation_id, items))  # a retry
    assert error.metadata["idempotency_key"] == "job:j1:row:4"
    assert await held(billing, account_id, reservation_id) == (9, 1)

    settled = await billing.SettleReservation(
        pb.SettleReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )
    assert settled.balance == FREE_TIER + CREDITS - 9
    assert await balance(billing, account_id) == FREE_TIER + CREDITS - 9


async def test_a_batch_on_a_closed_reservation_is_refused(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 10)
    await billing.SettleReservation(
        pb.SettleReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )

    code, error = await refused(charge_batch(billing, account_id, reservation_id, rows(1, 2)))

    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "RESERVATION_CLOSED"
    assert error.metadata == {"idempotency_key": "job:j1:row:1"}
    assert await held(billing, account_id, reservation_id) == (0, 10)
    assert await balance(billing, account_id) == FREE_TIER + CREDITS
    assert await row_charges(billing, account_id) == []


async def test_another_accounts_reservation_is_not_found(billing: pb_grpc.BillingServiceStub) -> None:
    owner = await new_account(billing)
    stranger = await new_account(billing)
    reservation_id = await reserve(billing, owner, 10)

    code, error = await refused(charge_batch(billing, stranger, reservation_id, rows(1, 2)))

    assert code == grpc.StatusCode.NOT_FOUND
    assert error.reason == "RESERVATION_NOT_FOUND"
    assert await held(billing, owner, reservation_id) == (0, 10)
    assert await row_charges(billing, owner) == await row_charges(billing, stranger) == []
    assert await balance(billing, stranger) == FREE_TIER + CREDITS


@pytest.mark.parametrize(
    ("account", "reservation", "items", "reason"),
    [
        ("", "res", rows(1), "ACCOUNT_ID_REQUIRED"),
        ("acct", "", rows(1), "RESERVATION_ID_REQUIRED"),
        ("acct", "res", [], "ITEMS_REQUIRED"),
        ("acct", "res", rows(*range(1001)), "TOO_MANY_ITEMS"),
        ("acct", "res", [*rows(1, 2), *rows(1)], "DUPLICATE_IDEMPOTENCY_KEY"),
        ("acct", "res", [*rows(1), ("", 1)], "IDEMPOTENCY_KEY_REQUIRED"),
        ("acct", "res", [*rows(1), ("lm:reserve:job:j1", 1)], "IDEMPOTENCY_KEY_RESERVED"),
        ("acct", "res", [*rows(1), ("k" * 201, 1)], "INVALID_ARGUMENT"),
        ("acct", "res", [*rows(1), ("job:j1:row:2", 0)], "INVALID_AMOUNT"),
        ("acct", "res", [*rows(1), ("job:j1:row:2", -3)], "INVALID_AMOUNT"),
        ("acct", "res", [*rows(1), ("job:j1:row:2", 1_000_000_001)], "INVALID_AMOUNT"),
    ],
)
async def test_invalid_batches_are_refused_and_charge_nothing(
    billing: pb_grpc.BillingServiceStub,
    account: str,
    reservation: str,
    items: list[tuple[str, int]],
    reason: str,
) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 10)

    code, error = await refused(
        charge_batch(
            billing,
            account_id if account else "",
            reservation_id if reservation else "",
            items,
        )
    )

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == reason
    assert await held(billing, account_id, reservation_id) == (0, 10)
    assert await row_charges(billing, account_id) == []


async def test_a_batch_of_the_largest_size_is_charged(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 1000)

    response = await charge_batch(billing, account_id, reservation_id, rows(*range(1000)))

    assert [r.entry.balance_after for r in response.results] == list(range(999, -1, -1))
    assert response.remaining == 0
    assert await held(billing, account_id, reservation_id) == (1000, 0)


# concurrency


async def test_concurrent_batches_with_distinct_keys_all_apply(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 500)
    chunks = [rows(*range(start, start + 50)) for start in range(0, 400, 50)]

    responses = await asyncio.gather(*(charge_batch(billing, account_id, reservation_id, c) for c in chunks))

    results = [r for response in responses for r in response.results]
    assert not any(r.replayed for r in results)
    # Every credit taken once: the remainders right after the 400 charges are 499 down to 100.
    assert sorted(r.entry.balance_after for r in results) == list(range(100, 500))
    assert await held(billing, account_id, reservation_id) == (400, 100)
    assert len(await row_charges(billing, account_id)) == 400


async def test_the_same_batch_sent_concurrently_charges_once(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    reservation_id = await reserve(billing, account_id, 100)
    items = rows(*range(30))

    responses = await asyncio.gather(
        *(charge_batch(billing, account_id, reservation_id, items) for _ in range(4))
    )

    for n in range(30):
        assert len({response.results[n].entry.entry_id for response in responses}) == 1
    assert await held(billing, account_id, reservation_id) == (30, 70)
    assert len(await row_charges(billing, account_id)) == 30


# a dead process


class Store:
    def __init__(
        self, repository: BillingRepository, ledger: CreditLedger, account_id: str, reservation_id: str
    ):
        self.repository = repository
        self.ledger = ledger
        self.account_id = account_id
        self.reservation_id = reservation_id

    @property
    def postings(self) -> Postings:
        return self.repository.postings

    def charges(self, *numbers: int, amount: int = 1) -> list[NewEntry]:
        return self.ledger._batch_entries(
            self.account_id, self.reservation_id, [ChargeItem(k, a) for k, a in rows(*numbers, amount=amount)]
        )

    async def crash_after_insert(self, news: list[NewEntry]) -> list[Document]:
        """Step 1 only: the entries stored pending (a moment ago); the process dies."""
        docs = self.postings.new_batch_docs(news)
        for doc in docs:
            doc["create_time"] -= timedelta(seconds=2)
        await self.postings.ledger.insert_many(docs)
        return docs

    async def crash_after_apply(self, news: list[NewEntry]) -> list[Document]:
        """Steps 1 and 2: applied to the reservation with all their marks, never marked applied."""
        docs = await self.crash_after_insert(news)
        holder = self.postings._holder(news[0], None)
        assert await self.postings._apply_all(docs, holder, news) is not None
        return docs

    async def states(self, docs: list[Document]) -> list[str]:
        found = {
            d["_id"]: d["state"]
            async for d in self.postings.ledger.find({"_id": {"$in": [d["_id"] for d in docs]}})
        }
        return [found[doc["_id"]] for doc in docs]

    async def inflight_marks(self) -> dict[str, Any]:
        reservation = await self.repository.reservations.find_one({"_id": self.reservation_id})
        assert reservation is not None
        marks: dict[str, Any] = reservation.get("inflight", {})
        return marks

    async def remaining(self) -> int:
        reservation = await self.ledger.reservation(self.account_id, self.reservation_id)
        return reservation.remaining

    async def charge(self, *numbers: int, amount: int = 1) -> list[tuple[str, int, bool]]:
        items = [ChargeItem(k, a) for k, a in rows(*numbers, amount=amount)]
        charged = await self.ledger.charge_reservation_batch(self.account_id, self.reservation_id, items)
        return [(r.entry.idempotency_key, r.entry.balance_after, r.replayed) for r in charged.results]


@pytest_asyncio.fixture
async def store(db: AsyncDatabase[Document]) -> AsyncIterator[Store]:
    """An account with a reservation of 100 credits."""
    repository = BillingRepository(db)
    await repository.ensure_indexes()
    ledger = CreditLedger(repository, FREE_TIER, clock=lambda: datetime.now(UTC))
    account_id = (await repository.insert_account("Acme")).account_id
    await ledger.add_credits(account_id, "topup", CREDITS)
    reservation, _, _ = await ledger.reserve(account_id, "job:j1", 100)
    yield Store(repository, ledger, account_id, reservation.reservation_id)


async def test_recover_finishes_a_batch_that_died_after_applying(store: Store) -> None:
    docs = await store.crash_after_apply(store.charges(1, 2, 3, amount=2))
    assert await store.remaining() == 94
    assert await store.states(docs) == ["pending"] * 3

    assert await store.postings.recover(older_than=timedelta(seconds=1)) == 3

    assert await store.states(docs) == ["applied"] * 3
    assert await store.remaining() == 94
    listed = await store.repository.list_entries(store.account_id, None, 100)
    assert sorted(e.entry_id for e in listed if e.reservation_id and e.amount == -2) == sorted(
        d["_id"] for d in docs
    )
    # A retry of the batch replays it.
    assert await store.charge(1, 2, 3, amount=2) == [
        ("job:j1:row:1", 94, True),
        ("job:j1:row:2", 94, True),
        ("job:j1:row:3", 94, True),
    ]
    assert await store.remaining() == 94


async def test_a_retried_batch_finishes_what_a_crash_after_applying_left(store: Store) -> None:
    docs = await store.crash_after_apply(store.charges(1, 2))

    assert [(key, replayed) for key, _, replayed in await store.charge(1, 2, 3)] == [
        ("job:j1:row:1", False),
        ("job:j1:row:2", False),
        ("job:j1:row:3", False),
    ]

    assert await store.states(docs) == ["applied"] * 2
    assert await store.remaining() == 97
    assert await store.postings.recover(older_than=timedelta(0)) == 0


async def test_a_batch_lost_before_applying_is_rejected_by_recover_and_charged_once_by_a_retry(
    store: Store,
) -> None:
    docs = await store.crash_after_insert(store.charges(1, 2))

    assert await store.postings.recover(older_than=timedelta(seconds=1)) == 2
    assert await store.states(docs) == ["rejected"] * 2
    assert await store.remaining() == 100

    assert await store.charge(1, 2, 3) == [
        ("job:j1:row:1", 99, False),
        ("job:j1:row:2", 98, False),
        ("job:j1:row:3", 97, False),
    ]
    assert await store.charge(1, 2, 3) == [
        ("job:j1:row:1", 99, True),
        ("job:j1:row:2", 98, True),
        ("job:j1:row:3", 97, True),
    ]
    assert await store.remaining() == 97


async def test_items_after_a_failure_are_left_rejected_not_pending(store: Store) -> None:
    with pytest.raises(LeadmeshError) as caught:
        await store.charge(*range(10), amount=30)
    assert caught.value.reason == "INSUFFICIENT_CREDITS"

    pending = await store.postings.ledger.count_documents(
        {"account_id": store.account_id, "state": "pending"}
    )
    assert pending == 0
    assert await store.postings.recover(older_than=timedelta(0)) == 0
    assert await store.remaining() == 10


async def test_a_batch_prunes_old_marks_behind_the_floor(store: Store) -> None:
    """Old marks piling up on the reservation are pruned after a batch, as after a single
    charge: the entries a pruned mark names are applied first, and its attempt never applies again."""
    crashed = await store.crash_after_apply(store.charges(0, 5, amount=3))
    [group] = (await store.inflight_marks()).values()
    hour_ago = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    aged = [f"at_{hour_ago:012x}{n:04d}" for n in range(PRUNE_AT + 1)]
    await store.postings.ledger.update_many(
        {"_id": {"$in": [doc["_id"] for doc in crashed]}}, {"$set": {"attempt": aged[0]}}
    )
    marks = {attempt: f"le_other_{n}" for n, attempt in enumerate(aged)} | {aged[0]: group}
    await store.repository.reservations.update_one(
        {"_id": store.reservation_id}, {"$set": {"inflight": marks}}
    )

    assert [b for _, b, _ in await store.charge(1, 2)] == [93, 92]
    await store.postings.settled()  # the batch answered before its prune ran

    reservation = await store.repository.reservations.find_one({"_id": store.reservation_id})
    assert reservation is not None
    assert reservation["floor"] == max(aged)
    assert not set(aged) & set(reservation["inflight"])
    assert await store.states(crashed) == ["applied"] * 2
    stale = [{**doc, "attempt": aged[3]} for doc in store.postings.new_batch_docs(store.charges(9))]
    holder = store.postings._holder(store.charges(9)[0], None)
    assert await store.postings._apply_all(stale, holder, store.charges(9)) is None
    assert await store.remaining() == 92


async def test_a_batch_sets_one_mark_naming_its_entries(store: Store) -> None:
    assert [b for _, b, _ in await store.charge(1, 2, 3)] == [99, 98, 97]

    [mark] = (await store.inflight_marks()).values()
    entries = [d async for d in store.postings.ledger.find({"account_id": store.account_id, "amount": -1})]
    assert mark["size"] == 3
    assert sorted(f"{mark['group']}{n:03d}" for n in range(3)) == sorted(d["_id"] for d in entries)
    assert {d["attempt"] for d in entries} == set(await store.inflight_marks())


async def test_an_entry_of_a_batch_posted_alone_takes_a_new_attempt(store: Store) -> None:
    """Two entries of a batch that was never applied are retried one at a time: the first is
    applied under the batch's attempt and its mark names only it, so the second gets a new attempt,
    and the batch's own update, arriving late, can no longer apply."""
    news = store.charges(1, 2)
    docs = await store.crash_after_insert(news)

    assert await store.charge(1) == [("job:j1:row:1", 99, False)]
    assert await store.charge(2) == [("job:j1:row:2", 98, False)]

    holder = store.postings._holder(news[0], None)
    assert await store.postings._apply_all(docs, holder, news) is None
    assert await store.remaining() == 98
    assert await store.states(docs) == ["applied"] * 2
    assert await store.charge(1, 2) == [("job:j1:row:1", 99, True), ("job:j1:row:2", 98, True)]
    assert await store.postings.recover(older_than=timedelta(0)) == 0


async def test_a_batch_of_new_keys_takes_a_handful_of_store_commands(
    store: Store, spans: InMemorySpanExporter, db: AsyncDatabase[Document]
) -> None:
    """The point of the batch: a few store commands for a chunk, not a few per item."""
    reservation, _, _ = await store.ledger.reserve(store.account_id, "job:j2", 300)
    items = [ChargeItem(f"job:j2:row:{n}", 1) for n in range(250)]
    spans.clear()

    charged = await store.ledger.charge_reservation_batch(store.account_id, reservation.reservation_id, items)

    commands = [
        span.attributes["db.operation.name"]
        for span in spans.get_finished_spans()
        if span.attributes is not None and span.attributes.get("db.namespace") == db.name
    ]
    assert "insert" in commands and "findAndModify" in commands, commands
    assert len(commands) <= 6, commands
    assert charged.remaining == 50
    assert [r.entry.balance_after for r in charged.results] == list(range(299, 49, -1))
