"""CreditLedger: balances, charges, credits, the monthly free tier and batch reservations."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from libs.errors import InvalidArgument, NotFound
from services.billing.domain import (
    Account,
    EntryKind,
    LedgerEntry,
    NewEntry,
    Reservation,
    ReservationState,
    billing_period,
)
from services.billing.postings import FreeTierDue
from services.billing.repository import BillingRepository

__all__ = ["Balance", "CreditLedger", "Posted"]

MAX_KEY_LENGTH = 200
MAX_AMOUNT = 1_000_000_000


@dataclass(frozen=True)
class Balance:
    account: Account
    balance: int
    reserved: int


@dataclass(frozen=True)
class Posted:
    entry: LedgerEntry
    balance: int
    replayed: bool


def _check_key(key: str) -> str:
    if not key:
        raise InvalidArgument("idempotency_key is required", reason="IDEMPOTENCY_KEY_REQUIRED")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(f"idempotency_key is longer than {MAX_KEY_LENGTH} characters")
    return key


def _check_amount(amount: int) -> int:
    if amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidArgument(
            f"amount must be between 1 and {MAX_AMOUNT}, got {amount}", reason="INVALID_AMOUNT"
        )
    return amount


def reservation_id_for(account_id: str, key: str) -> str:
    """Deterministic, so a retried Reserve finds the reservation its first attempt made."""
    return "res_" + hashlib.sha256(f"{account_id}\0{key}".encode()).hexdigest()[:24]


class CreditLedger:
    def __init__(
        self,
        repository: BillingRepository,
        free_tier_credits: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.repository = repository
        self.free_tier_credits = free_tier_credits
        self.clock = clock

    async def account(self, account_id: str) -> Account:
        """The account, its free tier for this month granted first if due."""
        if not account_id:
            raise InvalidArgument("account_id is required", reason="ACCOUNT_ID_REQUIRED")
        account = await self.repository.get_account(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found", reason="ACCOUNT_NOT_FOUND")
        period = billing_period(self.clock())
        if account.free_tier_period == period:
            return account
        await self.grant_free_tier(account_id, period)
        refreshed = await self.repository.get_account(account_id)
        assert refreshed is not None
        return refreshed

    async def grant_free_tier(self, account_id: str, period: str) -> None:
        """Grants the month's free credits once, however often it is called."""
        if self.free_tier_credits > 0:
            await self.repository.postings.post(
                NewEntry(
                    account_id=account_id,
                    idempotency_key=f"free_tier:{period}",
                    kind=EntryKind.FREE_TIER_GRANT,
                    amount=self.free_tier_credits,
                    description=f"Free tier {period}",
                )
            )
        await self.repository.mark_free_tier_granted(account_id, period)

    async def balance(self, account_id: str) -> Balance:
        account = await self.account(account_id)
        reserved = await self.repository.reserved_total(account_id)
        return Balance(account=account, balance=account.balance, reserved=reserved)

    async def charge(self, account_id: str, key: str, amount: int, description: str = "") -> Posted:
        new = NewEntry(account_id, _check_key(key), EntryKind.CHARGE, -_check_amount(amount), description)
        return await self._post_to_account(new)

    async def add_credits(self, account_id: str, key: str, amount: int, description: str = "") -> Posted:
        new = NewEntry(account_id, _check_key(key), EntryKind.CREDIT, _check_amount(amount), description)
        return await self._post_to_account(new)

    async def charge_reservation(
        self, account_id: str, reservation_id: str, key: str, amount: int, description: str = ""
    ) -> Posted:
        new = NewEntry(
            account_id,
            _check_key(key),
            EntryKind.CHARGE,
            -_check_amount(amount),
            description,
            reservation_id=reservation_id,
            draws_on_reservation=True,
        )
        entry, replayed = await self.repository.postings.post(new)
        account = await self.account(account_id)
        return Posted(entry, account.balance, replayed)

    async def _post_to_account(self, new: NewEntry) -> Posted:
        if not new.account_id:
            raise InvalidArgument("account_id is required", reason="ACCOUNT_ID_REQUIRED")
        period = billing_period(self.clock())
        try:
            entry, replayed = await self.repository.postings.post(new, free_tier_period=period)
        except FreeTierDue:
            await self.grant_free_tier(new.account_id, period)
            entry, replayed = await self.repository.postings.post(new, free_tier_period=period)
        if replayed:
            account = await self.account(new.account_id)
            return Posted(entry, account.balance, replayed)
        return Posted(entry, entry.balance_after, replayed)

    async def reserve(
        self, account_id: str, key: str, amount: int, description: str = ""
    ) -> tuple[Reservation, int, bool]:
        reservation_id = reservation_id_for(account_id, _check_key(key))
        new = NewEntry(
            account_id,
            f"reserve:{key}",
            EntryKind.RESERVE,
            -_check_amount(amount),
            description,
            reservation_id=reservation_id,
        )
        posted = await self._post_to_account(new)
        reservation = await self.repository.open_reservation(account_id, reservation_id, key, amount)
        return reservation, posted.balance, posted.replayed

    async def reservation(self, account_id: str, reservation_id: str) -> Reservation:
        reservation = await self.repository.get_reservation(account_id, reservation_id)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} not found", reason="RESERVATION_NOT_FOUND")
        return reservation

    async def close(
        self, account_id: str, reservation_id: str, state: ReservationState
    ) -> tuple[Reservation, int]:
        """Settles or releases: freezes the reservation and returns its remainder to the balance.

        Idempotent: closing a closed reservation (in either way) changes nothing.
        """
        reservation = await self.repository.close_reservation(account_id, reservation_id, state)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} not found", reason="RESERVATION_NOT_FOUND")
        if reservation.remaining > 0:
            new = NewEntry(
                account_id,
                f"release:{reservation_id}",
                EntryKind.RELEASE,
                reservation.remaining,
                f"Unused credits of reservation {reservation.idempotency_key}",
                reservation_id=reservation_id,
            )
            posted = await self._post_to_account(new)
            return reservation, posted.balance
        account = await self.account(account_id)
        return reservation, account.balance
