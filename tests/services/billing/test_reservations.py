"""Reservations for batch jobs through the real BillingService over gRPC and the embedded store."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.errors import error_from_rpc


async def new_account(billing: pb_grpc.BillingServiceStub) -> str:
    response = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme"))
    return response.account.account_id


async def balances(billing: pb_grpc.BillingServiceStub, account_id: str) -> tuple[int, int]:
    """(balance, reserved)."""
    response = await billing.GetBalance(pb.GetBalanceRequest(account_id=account_id))
    return response.balance, response.reserved


async def reserve(
    billing: pb_grpc.BillingServiceStub, account_id: str, amount: int, key: str = "job:j1"
) -> pb.ReserveResponse:
    return await billing.Reserve(pb.ReserveRequest(account_id=account_id, idempotency_key=key, amount=amount))


async def charge_reservation(
    billing: pb_grpc.BillingServiceStub, account_id: str, reservation_id: str, key: str, amount: int
) -> pb.ChargeResponse:
    return await billing.Charge(
        pb.ChargeRequest(
            account_id=account_id, reservation_id=reservation_id, idempotency_key=key, amount=amount
        )
    )


async def get_reservation(
    billing: pb_grpc.BillingServiceStub, account_id: str, reservation_id: str
) -> pb.Reservation:
    response = await billing.GetReservation(
        pb.GetReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )
    return response.reservation


async def ledger(billing: pb_grpc.BillingServiceStub, account_id: str) -> list[pb.LedgerEntry]:
    response = await billing.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(account_id=account_id, page_size=100)
    )
    return list(response.entries)


async def test_reserving_holds_credits_out_of_the_balance(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    response = await reserve(billing, account_id, 10)
    assert response.balance == 20
    assert not response.replayed
    held = response.reservation
    assert (held.amount, held.used, held.remaining) == (10, 0, 10)
    assert held.state == pb.Reservation.STATE_OPEN
    assert held.account_id == account_id
    assert held.idempotency_key == "job:j1"
    assert await balances(billing, account_id) == (20, 10)
    assert await get_reservation(billing, account_id, held.reservation_id) == held


async def test_charges_on_a_reservation_draw_on_it_not_on_the_balance(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id

    first = await charge_reservation(billing, account_id, reservation_id, "job:j1:row:1", 3)
    second = await charge_reservation(billing, account_id, reservation_id, "job:j1:row:2", 2)

    assert first.entry.reservation_id == reservation_id
    assert (first.entry.amount, first.entry.balance_after) == (-3, 7)
    assert (second.entry.amount, second.entry.balance_after) == (-2, 5)
    assert first.balance == second.balance == 20
    held = await get_reservation(billing, account_id, reservation_id)
    assert (held.used, held.remaining) == (5, 5)
    assert await balances(billing, account_id) == (20, 5)


async def test_a_retried_reserve_returns_the_same_reservation_and_holds_nothing_more(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    first = await reserve(billing, account_id, 10)
    retried = await reserve(billing, account_id, 10)
    assert retried.replayed
    assert retried.reservation.reservation_id == first.reservation.reservation_id
    assert retried.reservation.remaining == 10
    assert retried.balance == 20
    assert await balances(billing, account_id) == (20, 10)
    reserves = [e for e in await ledger(billing, account_id) if e.kind == pb.LEDGER_ENTRY_KIND_RESERVE]
    assert len(reserves) == 1


async def test_settling_returns_the_unused_remainder(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id
    await charge_reservation(billing, account_id, reservation_id, "job:j1:row:1", 4)

    settled = await billing.SettleReservation(
        pb.SettleReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )
    assert settled.balance == 26
    assert settled.reservation.state == pb.Reservation.STATE_SETTLED
    assert settled.reservation.used == 4
    assert settled.reservation.HasField("close_time")
    assert await balances(billing, account_id) == (26, 0)


async def test_settle_is_idempotent_and_a_later_release_changes_nothing(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id
    await charge_reservation(billing, account_id, reservation_id, "job:j1:row:1", 4)
    request = {"account_id": account_id, "reservation_id": reservation_id}

    first = await billing.SettleReservation(pb.SettleReservationRequest(**request))
    again = await billing.SettleReservation(pb.SettleReservationRequest(**request))
    released = await billing.ReleaseReservation(pb.ReleaseReservationRequest(**request))

    assert first.balance == again.balance == released.balance == 26
    assert again.reservation.state == pb.Reservation.STATE_SETTLED
    assert released.reservation.state == pb.Reservation.STATE_SETTLED
    assert await balances(billing, account_id) == (26, 0)
    releases = [e for e in await ledger(billing, account_id) if e.kind == pb.LEDGER_ENTRY_KIND_RELEASE]
    assert [e.amount for e in releases] == [6]


async def test_a_charge_on_a_settled_reservation_is_refused(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id
    await billing.SettleReservation(
        pb.SettleReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await charge_reservation(billing, account_id, reservation_id, "job:j1:row:1", 1)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_from_rpc(caught.value).reason == "RESERVATION_CLOSED"
    assert await balances(billing, account_id) == (30, 0)
    assert (await get_reservation(billing, account_id, reservation_id)).used == 0


async def test_a_charge_beyond_the_reservation_is_refused_and_debits_nothing(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id
    await charge_reservation(billing, account_id, reservation_id, "job:j1:row:1", 7)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await charge_reservation(billing, account_id, reservation_id, "job:j1:row:2", 4)
    error = error_from_rpc(caught.value)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "INSUFFICIENT_CREDITS"
    assert error.metadata == {"remaining": "3", "required": "4"}
    held = await get_reservation(billing, account_id, reservation_id)
    assert (held.used, held.remaining) == (7, 3)
    assert await balances(billing, account_id) == (20, 3)
    charges = [
        e for e in await ledger(billing, account_id) if e.kind == pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE
    ]
    assert [e.idempotency_key for e in charges] == ["job:j1:row:1"]


async def test_reserving_more_than_the_balance_is_refused_and_holds_nothing(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await reserve(billing, account_id, 31)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_from_rpc(caught.value).reason == "INSUFFICIENT_CREDITS"
    assert await balances(billing, account_id) == (30, 0)
    assert [e.kind for e in await ledger(billing, account_id)] == [pb.LEDGER_ENTRY_KIND_FREE_TIER_GRANT]


async def test_another_accounts_reservation_is_not_found(billing: pb_grpc.BillingServiceStub) -> None:
    owner = await new_account(billing)
    stranger = await new_account(billing)
    reservation_id = (await reserve(billing, owner, 10)).reservation.reservation_id

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get_reservation(billing, stranger, reservation_id)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_from_rpc(caught.value).reason == "RESERVATION_NOT_FOUND"

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.SettleReservation(
            pb.SettleReservationRequest(account_id=stranger, reservation_id=reservation_id)
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_from_rpc(caught.value).reason == "RESERVATION_NOT_FOUND"

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await charge_reservation(billing, stranger, reservation_id, "job:j1:row:1", 1)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_from_rpc(caught.value).reason == "RESERVATION_NOT_FOUND"

    assert await balances(billing, owner) == (20, 10)
    assert await balances(billing, stranger) == (30, 0)
    assert (await get_reservation(billing, owner, reservation_id)).state == pb.Reservation.STATE_OPEN


async def test_a_retried_reservation_charge_debits_once_even_sent_concurrently(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id

    responses = await asyncio.gather(
        *(charge_reservation(billing, account_id, reservation_id, "job:j1:row:7", 3) for _ in range(10))
    )

    assert len({r.entry.entry_id for r in responses}) == 1
    held = await get_reservation(billing, account_id, reservation_id)
    assert (held.used, held.remaining) == (3, 7)
    assert await balances(billing, account_id) == (20, 7)
    charges = [
        e for e in await ledger(billing, account_id) if e.kind == pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE
    ]
    assert [(e.idempotency_key, e.amount) for e in charges] == [("job:j1:row:7", -3)]


async def test_releasing_returns_everything_unused(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id
    await charge_reservation(billing, account_id, reservation_id, "job:j1:row:1", 2)

    released = await billing.ReleaseReservation(
        pb.ReleaseReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )
    assert released.reservation.state == pb.Reservation.STATE_RELEASED
    assert released.balance == 28
    assert await balances(billing, account_id) == (28, 0)


async def test_an_untouched_reservation_released_gives_everything_back(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id
    released = await billing.ReleaseReservation(
        pb.ReleaseReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )
    assert released.balance == 30
    assert await balances(billing, account_id) == (30, 0)


async def test_the_ledger_shows_reserve_and_release_adding_up_to_what_was_used(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    reservation_id = (await reserve(billing, account_id, 10)).reservation.reservation_id
    for row, amount in enumerate([1, 2, 3], start=1):
        await charge_reservation(billing, account_id, reservation_id, f"job:j1:row:{row}", amount)
    await billing.SettleReservation(
        pb.SettleReservationRequest(account_id=account_id, reservation_id=reservation_id)
    )

    entries = await ledger(billing, account_id)
    by_kind = {
        kind: [e for e in entries if e.kind == kind]
        for kind in (
            pb.LEDGER_ENTRY_KIND_RESERVE,
            pb.LEDGER_ENTRY_KIND_RELEASE,
            pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE,
        )
    }
    [reserve_entry] = by_kind[pb.LEDGER_ENTRY_KIND_RESERVE]
    [release_entry] = by_kind[pb.LEDGER_ENTRY_KIND_RELEASE]
    assert (reserve_entry.amount, reserve_entry.balance_after) == (-10, 20)
    assert (release_entry.amount, release_entry.balance_after) == (4, 24)
    assert reserve_entry.reservation_id == release_entry.reservation_id == reservation_id
    used = sum(-e.amount for e in by_kind[pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE])
    assert used == 6
    assert reserve_entry.amount + release_entry.amount == -used
    assert await balances(billing, account_id) == (30 - used, 0)
    # The entries that move the balance add up to it.
    moving = [e.amount for e in entries if e.kind != pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE]
    assert sum(moving) == 30 - used
