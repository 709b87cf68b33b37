"""Billing's domain: what an account, a key, a ledger entry and a reservation are, and their rules."""

from services.billing.domain.keys import ApiKeyMode, IssuedKey, hash_secret, issue_key, looks_like_key
from services.billing.domain.models import (
    Account,
    ApiKey,
    EntryKind,
    LedgerEntry,
    NewEntry,
    Reservation,
    ReservationState,
)
from services.billing.domain.periods import billing_period, next_period_start

__all__ = [
    "Account",
    "ApiKey",
    "ApiKeyMode",
    "EntryKind",
    "IssuedKey",
    "LedgerEntry",
    "NewEntry",
    "Reservation",
    "ReservationState",
    "billing_period",
    "hash_secret",
    "issue_key",
    "looks_like_key",
    "next_period_start",
]
