"""BillingService over gRPC: proto in, domain call, proto out."""

from __future__ import annotations

from typing import Any

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument, LeadmeshError
from libs.protos import timestamp
from services.billing.accounts import AccountDirectory
from services.billing.domain import (
    Account,
    ApiKey,
    ApiKeyMode,
    ChargeItem,
    EntryKind,
    LedgerEntry,
    Reservation,
    ReservationState,
    billing_period,
    next_period_start,
)
from services.billing.ledger import CreditLedger

__all__ = ["BillingServicer"]

Context = Any

_KIND = {
    EntryKind.FREE_TIER_GRANT: pb.LEDGER_ENTRY_KIND_FREE_TIER_GRANT,
    EntryKind.CREDIT: pb.LEDGER_ENTRY_KIND_CREDIT,
    EntryKind.CHARGE: pb.LEDGER_ENTRY_KIND_CHARGE,
    EntryKind.RESERVE: pb.LEDGER_ENTRY_KIND_RESERVE,
    EntryKind.RELEASE: pb.LEDGER_ENTRY_KIND_RELEASE,
    EntryKind.RESERVATION_CHARGE: pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE,
}
_RESERVATION_STATE = {
    ReservationState.OPEN: pb.Reservation.STATE_OPEN,
    ReservationState.SETTLED: pb.Reservation.STATE_SETTLED,
    ReservationState.RELEASED: pb.Reservation.STATE_RELEASED,
}
_MODE = {ApiKeyMode.LIVE: pb.API_KEY_MODE_LIVE, ApiKeyMode.TEST: pb.API_KEY_MODE_TEST}


class BillingServicer(pb_grpc.BillingServiceServicer):
    def __init__(self, accounts: AccountDirectory, ledger: CreditLedger):
        self.accounts = accounts
        self.ledger = ledger

    # conversions

    def _free_tier(self, account: Account) -> pb.FreeTier:
        now = self.ledger.clock()
        return pb.FreeTier(
            monthly_credits=self.ledger.free_tier_credits,
            last_granted_period=account.free_tier_period,
            next_grant_time=timestamp(next_period_start(now)),
            current_period=billing_period(now),
        )

    def _account(self, account: Account) -> pb.Account:
        return pb.Account(
            account_id=account.account_id,
            name=account.name,
            create_time=timestamp(account.create_time),
            balance=account.balance,
            free_tier=self._free_tier(account),
        )

    @staticmethod
    def _api_key(key: ApiKey) -> pb.ApiKey:
        return pb.ApiKey(
            key_id=key.key_id,
            account_id=key.account_id,
            prefix=key.prefix,
            mode=_MODE[key.mode],
            name=key.name,
            state=pb.ApiKey.STATE_REVOKED if key.revoked else pb.ApiKey.STATE_ACTIVE,
            create_time=timestamp(key.create_time),
            revoke_time=timestamp(key.revoke_time),
            last_use_time=timestamp(key.last_use_time),
        )

    @staticmethod
    def _entry(entry: LedgerEntry) -> pb.LedgerEntry:
        return pb.LedgerEntry(
            entry_id=entry.entry_id,
            account_id=entry.account_id,
            kind=_KIND[entry.kind],
            amount=entry.amount,
            balance_after=entry.balance_after,
            idempotency_key=entry.idempotency_key,
            description=entry.description,
            reservation_id=entry.reservation_id,
            create_time=timestamp(entry.create_time),
        )

    @staticmethod
    def _reservation(reservation: Reservation) -> pb.Reservation:
        return pb.Reservation(
            reservation_id=reservation.reservation_id,
            account_id=reservation.account_id,
            idempotency_key=reservation.idempotency_key,
            amount=reservation.amount,
            used=reservation.used,
            remaining=reservation.remaining,
            state=_RESERVATION_STATE[reservation.state],
            create_time=timestamp(reservation.create_time),
            close_time=timestamp(reservation.close_time),
        )

    # accounts and keys

    async def CreateAccount(
        self, request: pb.CreateAccountRequest, context: Context
    ) -> pb.CreateAccountResponse:
        created = await self.accounts.create_account(
            request.name, request.initial_credits, request.create_api_key
        )
        response = pb.CreateAccountResponse(account=self._account(created.account))
        if created.key is not None:
            response.api_key.CopyFrom(self._api_key(created.key.api_key))
            response.api_key_secret = created.key.secret
        return response

    async def GetAccount(self, request: pb.GetAccountRequest, context: Context) -> pb.GetAccountResponse:
        return pb.GetAccountResponse(account=self._account(await self.ledger.account(request.account_id)))

    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: Context
    ) -> pb.CreateApiKeyResponse:
        mode = ApiKeyMode.TEST if request.mode == pb.API_KEY_MODE_TEST else ApiKeyMode.LIVE
        created = await self.accounts.create_key(request.account_id, mode, request.name)
        return pb.CreateApiKeyResponse(api_key=self._api_key(created.api_key), api_key_secret=created.secret)

    async def ListApiKeys(self, request: pb.ListApiKeysRequest, context: Context) -> pb.ListApiKeysResponse:
        keys, token = await self.accounts.keys(request.account_id, request.page_size, request.page_token)
        return pb.ListApiKeysResponse(api_keys=[self._api_key(k) for k in keys], next_page_token=token)

    async def RevokeApiKey(
        self, request: pb.RevokeApiKeyRequest, context: Context
    ) -> pb.RevokeApiKeyResponse:
        revoked = await self.accounts.revoke_key(request.prefix, request.account_id)
        return pb.RevokeApiKeyResponse(api_key=self._api_key(revoked))

    async def Authenticate(
        self, request: pb.AuthenticateRequest, context: Context
    ) -> pb.AuthenticateResponse:
        key = await self.accounts.authenticate(request.api_key)
        return pb.AuthenticateResponse(account_id=key.account_id, api_key=self._api_key(key))

    # credits

    async def GetBalance(self, request: pb.GetBalanceRequest, context: Context) -> pb.GetBalanceResponse:
        balance = await self.ledger.balance(request.account_id)
        return pb.GetBalanceResponse(
            balance=balance.balance, reserved=balance.reserved, free_tier=self._free_tier(balance.account)
        )

    async def Charge(self, request: pb.ChargeRequest, context: Context) -> pb.ChargeResponse:
        if request.reservation_id:
            posted = await self.ledger.charge_reservation(
                request.account_id,
                request.reservation_id,
                request.idempotency_key,
                request.amount,
                request.description,
            )
        else:
            posted = await self.ledger.charge(
                request.account_id, request.idempotency_key, request.amount, request.description
            )
        return pb.ChargeResponse(
            entry=self._entry(posted.entry), balance=posted.balance, replayed=posted.replayed
        )

    async def ChargeBatch(self, request: pb.ChargeBatchRequest, context: Context) -> pb.ChargeBatchResponse:
        charged = await self.ledger.charge_reservation_batch(
            request.account_id,
            request.reservation_id,
            [ChargeItem(item.idempotency_key, item.amount, item.description) for item in request.items],
        )
        return pb.ChargeBatchResponse(
            results=[
                pb.ChargeBatchResult(
                    idempotency_key=result.entry.idempotency_key,
                    entry=self._entry(result.entry),
                    replayed=result.replayed,
                )
                for result in charged.results
            ],
            remaining=charged.remaining,
        )

    async def ChargeEach(self, request: pb.ChargeEachRequest, context: Context) -> pb.ChargeEachResponse:
        outcomes = await self.ledger.charge_each(
            request.account_id,
            request.reservation_id,
            [ChargeItem(item.idempotency_key, item.amount, item.description) for item in request.items],
        )
        results = []
        for item, outcome in zip(request.items, outcomes, strict=True):
            if isinstance(outcome, LeadmeshError):
                error = pb.ChargeError(
                    code=outcome.code.value[0],
                    message=outcome.message,
                    reason=outcome.reason,
                    metadata=outcome.metadata,
                )
                results.append(pb.ChargeEachResult(idempotency_key=item.idempotency_key, error=error))
            else:
                results.append(
                    pb.ChargeEachResult(
                        idempotency_key=item.idempotency_key,
                        entry=self._entry(outcome.entry),
                        balance=outcome.balance,
                        replayed=outcome.replayed,
                    )
                )
        return pb.ChargeEachResponse(results=results)

    async def AddCredits(self, request: pb.AddCreditsRequest, context: Context) -> pb.AddCreditsResponse:
        posted = await self.ledger.add_credits(
            request.account_id, request.idempotency_key, request.amount, request.description
        )
        return pb.AddCreditsResponse(
            entry=self._entry(posted.entry), balance=posted.balance, replayed=posted.replayed
        )

    async def ListLedgerEntries(
        self, request: pb.ListLedgerEntriesRequest, context: Context
    ) -> pb.ListLedgerEntriesResponse:
        entries, token = await self.ledger.entries(request.account_id, request.page_size, request.page_token)
        return pb.ListLedgerEntriesResponse(entries=[self._entry(e) for e in entries], next_page_token=token)

    async def GetUsage(self, request: pb.GetUsageRequest, context: Context) -> pb.GetUsageResponse:
        days = await self.ledger.usage(request.account_id, request.days)
        return pb.GetUsageResponse(
            days=[
                pb.UsageDay(
                    date=day.day.isoformat(),
                    single_leads=day.single_leads,
                    single_credits=day.single_credits,
                    csv_leads=day.csv_leads,
                    csv_credits=day.csv_credits,
                )
                for day in days
            ]
        )

    # reservations

    async def Reserve(self, request: pb.ReserveRequest, context: Context) -> pb.ReserveResponse:
        reservation, balance, replayed = await self.ledger.reserve(
            request.account_id, request.idempotency_key, request.amount, request.description
        )
        return pb.ReserveResponse(
            reservation=self._reservation(reservation), balance=balance, replayed=replayed
        )

    async def GetReservation(
        self, request: pb.GetReservationRequest, context: Context
    ) -> pb.GetReservationResponse:
        reservation = await self.ledger.reservation(request.account_id, _required(request.reservation_id))
        return pb.GetReservationResponse(reservation=self._reservation(reservation))

    async def SettleReservation(
        self, request: pb.SettleReservationRequest, context: Context
    ) -> pb.SettleReservationResponse:
        reservation, balance = await self.ledger.close(
            request.account_id, _required(request.reservation_id), ReservationState.SETTLED
        )
        return pb.SettleReservationResponse(reservation=self._reservation(reservation), balance=balance)

    async def ReleaseReservation(
        self, request: pb.ReleaseReservationRequest, context: Context
    ) -> pb.ReleaseReservationResponse:
        reservation, balance = await self.ledger.close(
            request.account_id, _required(request.reservation_id), ReservationState.RELEASED
        )
        return pb.ReleaseReservationResponse(reservation=self._reservation(reservation), balance=balance)


def _required(reservation_id: str) -> str:
    if not reservation_id:
        raise InvalidArgument("reservation_id is required", reason="RESERVATION_ID_REQUIRED")
    return reservation_id
