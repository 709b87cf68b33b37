"""Billing's records as plain dataclasses."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from services.billing.domain.keys import ApiKeyMode

__all__ = ["Account", "ApiKey", "EntryKind", "LedgerEntry", "NewEntry", "Reservation", "ReservationState"]


class EntryKind(enum.StrEnum):
    FREE_TIER_GRANT = "free_tier_grant"
    CREDIT = "credit"
    CHARGE = "charge"
    RESERVE = "reserve"
    RELEASE = "release"
    # Drawn on a reservation: the reservation's remainder goes down, the balance does not.
    RESERVATION_CHARGE = "reservation_charge"


class ReservationState(enum.StrEnum):
    OPEN = "open"
    SETTLED = "settled"
    RELEASED = "released"


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    create_time: datetime
    balance: int
    free_tier_period: str


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    account_id: str
    prefix: str
    mode: ApiKeyMode
    name: str
    create_time: datetime
    revoke_time: datetime | None = None
    last_use_time: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoke_time is not None


@dataclass(frozen=True)
class NewEntry:
    """A movement of credits to post. ``amount`` is signed: negative debits the holder.

    The holder is the account's balance, or the reservation named by ``reservation_id`` when
    ``draws_on_reservation`` is set (charges of a batch job).
    """

    account_id: str
    idempotency_key: str
    kind: EntryKind
    amount: int
    description: str = ""
    reservation_id: str = ""
    draws_on_reservation: bool = False


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: str
    account_id: str
    kind: EntryKind
    amount: int
    balance_after: int
    idempotency_key: str
    description: str
    reservation_id: str
    create_time: datetime
    # Orders the ledger by when entries took effect; pages of the ledger continue after one.
    sort_key: str = ""


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    account_id: str
    idempotency_key: str
    amount: int
    used: int
    remaining: int
    state: ReservationState
    create_time: datetime
    close_time: datetime | None = None
    # The hold has been taken from the balance (a Reserve that failed for credits leaves it False).
    funded: bool = True
    # The remainder of a closed reservation has been returned to the balance.
    refunded: bool = False
