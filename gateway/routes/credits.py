"""GET /v1/credits: balance, free-tier state and the latest ledger entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from gateway import examples
from gateway.auth import CurrentCaller
from gateway.records import LIVEMODE_FIELD
from leadmesh.billing.v1 import billing_service_pb2 as pb

router = APIRouter(prefix="/v1", tags=["credits"])

_ENTRY_TYPES = {
    pb.LEDGER_ENTRY_KIND_FREE_TIER_GRANT: "free_tier_grant",
    pb.LEDGER_ENTRY_KIND_CREDIT: "credit",
    pb.LEDGER_ENTRY_KIND_CHARGE: "charge",
    pb.LEDGER_ENTRY_KIND_RESERVE: "reserve",
    pb.LEDGER_ENTRY_KIND_RELEASE: "release",
    pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE: "reservation_charge",
}


class FreeTier(BaseModel):
    monthly_credits: int
    current_period: str
    granted_this_period: bool
    next_grant_at: datetime


class LedgerEntry(BaseModel):
    id: str
    type: str
    amount: int
    balance_after: int
    description: str
    idempotency_key: str
    reservation_id: str | None
    created_at: datetime


class Credits(BaseModel):
    balance: int
    reserved: int
    free_tier: FreeTier
    ledger: list[LedgerEntry]
    next_page_token: str | None
    livemode: bool = LIVEMODE_FIELD


@router.get(
    "/credits",
    response_model=Credits,
    summary="Credit balance, free tier and ledger",
    responses={200: examples.json_example(examples.CREDITS)},
)
async def get_credits(
    request: Request,
    response: Response,
    caller: CurrentCaller,
    page_size: Annotated[int, Query(ge=1, le=100, description="Ledger entries per page")] = 20,
    page_token: Annotated[
        str | None, Query(max_length=512, description="From a previous next_page_token")
    ] = None,
) -> Credits:
    billing = request.app.state.mesh.billing
    balance = await billing.GetBalance(pb.GetBalanceRequest(account_id=caller.account_id))
    ledger = await billing.ListLedgerEntries(
        pb.ListLedgerEntriesRequest(
            account_id=caller.account_id, page_size=page_size, page_token=page_token or ""
        )
    )
    free_tier = balance.free_tier
    response.headers["X-Credits-Remaining"] = str(balance.balance)
    return Credits(
        balance=balance.balance,
        reserved=balance.reserved,
        free_tier=FreeTier(
            monthly_credits=free_tier.monthly_credits,
            current_period=free_tier.current_period,
            granted_this_period=free_tier.last_granted_period == free_tier.current_period,
            next_grant_at=free_tier.next_grant_time.ToDatetime(tzinfo=UTC),
        ),
        ledger=[
            LedgerEntry(
                id=e.entry_id,
                type=_ENTRY_TYPES.get(e.kind, "unknown"),
                amount=e.amount,
                balance_after=e.balance_after,
                description=e.description,
                idempotency_key=e.idempotency_key,
                reservation_id=e.reservation_id or None,
                created_at=e.create_time.ToDatetime(tzinfo=UTC),
            )
            for e in ledger.entries
        ],
        next_page_token=ledger.next_page_token or None,
        livemode=not caller.test_mode,
    )
