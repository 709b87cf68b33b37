"""Charges, credits and the ledger through the real BillingService over gRPC and the embedded store."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.errors import error_from_rpc


async def new_account(billing: pb_grpc.BillingServiceStub, credits: int = 0) -> str:
    response = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme", initial_credits=credits))
    return response.account.account_id


async def balance(billing: pb_grpc.BillingServiceStub, account_id: str) -> int:
    return (await billing.GetBalance(pb.GetBalanceRequest(account_id=account_id))).balance


async def test_new_account_has_the_free_tier(billing: pb_grpc.BillingServiceStub) -> None:
    response = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme"))
    assert response.account.balance == 30
    assert response.account.free_tier.monthly_credits == 30
    entries = await billing.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(account_id=response.account.account_id)
    )
    assert [(e.kind, e.amount) for e in entries.entries] == [(pb.LEDGER_ENTRY_KIND_FREE_TIER_GRANT, 30)]


async def test_initial_credits_come_on_top_of_the_free_tier(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing, credits=100)
    assert await balance(billing, account_id) == 130


async def test_fifty_concurrent_charges_against_thirty_credits(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)

    async def charge(n: int) -> str:
        try:
            await billing.Charge(
                pb.ChargeRequest(account_id=account_id, idempotency_key=f"req-{n}", amount=1)
            )
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
            return error_from_rpc(exc).reason
        return "OK"

    outcomes = await asyncio.gather(*(charge(n) for n in range(50)))
    assert outcomes.count("OK") == 30
    assert outcomes.count("INSUFFICIENT_CREDITS") == 20
    assert await balance(billing, account_id) == 0
    ledger = await billing.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(account_id=account_id, page_size=100)
    )
    charges = [e for e in ledger.entries if e.kind == pb.LEDGER_ENTRY_KIND_CHARGE]
    assert len(charges) == 30
    assert sorted(e.balance_after for e in charges) == list(range(30))


async def test_a_retried_charge_debits_once(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    request = pb.ChargeRequest(account_id=account_id, idempotency_key="ev_1", amount=11)
    first = await billing.Charge(request)
    retries = await asyncio.gather(*(billing.Charge(request) for _ in range(10)))
    assert not first.replayed and first.balance == 19
    assert all(r.replayed and r.entry.entry_id == first.entry.entry_id for r in retries)
    assert await balance(billing, account_id) == 19


async def test_concurrent_first_attempts_with_one_key_debit_once(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    request = pb.ChargeRequest(account_id=account_id, idempotency_key="same", amount=2)
    responses = await asyncio.gather(*(billing.Charge(request) for _ in range(20)))
    assert len({r.entry.entry_id for r in responses}) == 1
    assert await balance(billing, account_id) == 28


async def test_a_key_reused_for_another_amount_is_a_conflict(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    await billing.Charge(pb.ChargeRequest(account_id=account_id, idempotency_key="k", amount=1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.Charge(pb.ChargeRequest(account_id=account_id, idempotency_key="k", amount=11))
    assert caught.value.code() == grpc.StatusCode.ABORTED
    assert error_from_rpc(caught.value).reason == "IDEMPOTENCY_KEY_REUSED"
    assert await balance(billing, account_id) == 29


async def test_insufficient_balance_debits_nothing_and_a_later_retry_can_succeed(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    request = pb.ChargeRequest(account_id=account_id, idempotency_key="big", amount=31)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.Charge(request)
    error = error_from_rpc(caught.value)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (error.reason, error.metadata) == ("INSUFFICIENT_CREDITS", {"balance": "30", "required": "31"})
    assert await balance(billing, account_id) == 30
    ledger = await billing.ListLedgerEntries(pb.ListLedgerEntriesRequest(account_id=account_id))
    assert [e.kind for e in ledger.entries] == [pb.LEDGER_ENTRY_KIND_FREE_TIER_GRANT]

    await billing.AddCredits(pb.AddCreditsRequest(account_id=account_id, idempotency_key="topup", amount=10))
    retried = await billing.Charge(request)
    assert retried.balance == 9 and not retried.replayed


@pytest.mark.parametrize(
    ("request_fields", "reason"),
    [
        ({"idempotency_key": "", "amount": 1}, "IDEMPOTENCY_KEY_REQUIRED"),
        ({"idempotency_key": "k", "amount": 0}, "INVALID_AMOUNT"),
        ({"idempotency_key": "k", "amount": -5}, "INVALID_AMOUNT"),
        ({"idempotency_key": "k" * 201, "amount": 1}, "INVALID_ARGUMENT"),
        ({"idempotency_key": "lm:free_tier:2099-01", "amount": 1}, "IDEMPOTENCY_KEY_RESERVED"),
    ],
)
async def test_malformed_charges_are_invalid_argument(
    billing: pb_grpc.BillingServiceStub, request_fields: dict[str, object], reason: str
) -> None:
    account_id = await new_account(billing)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.Charge(pb.ChargeRequest(account_id=account_id, **request_fields))  # type: ignore[arg-type]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(caught.value).reason == reason
    assert await balance(billing, account_id) == 30


async def test_unknown_account_is_not_found(billing: pb_grpc.BillingServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.Charge(pb.ChargeRequest(account_id="acct_nope", idempotency_key="k", amount=1))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_from_rpc(caught.value).reason == "ACCOUNT_NOT_FOUND"


async def test_ledger_pages_newest_first(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    for n in range(5):
        await billing.Charge(pb.ChargeRequest(account_id=account_id, idempotency_key=f"c{n}", amount=1))
    seen: list[str] = []
    token = ""
    while True:
        page = await billing.ListLedgerEntries(
            pb.ListLedgerEntriesRequest(account_id=account_id, page_size=2, page_token=token)
        )
        seen += [e.idempotency_key for e in page.entries]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["c4", "c3", "c2", "c1", "c0", "lm:free_tier:" + seen[-1].split(":")[-1]]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.ListLedgerEntries(pb.ListLedgerEntriesRequest(account_id=account_id, page_token="%%%"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
