"""Billing's domain: what an account, a key, a ledger entry and a reservation are, and their rules.

``models`` (the records), ``keys`` (API keys: issuing, hashing), ``periods`` (the free tier's
months), ``usage`` (the ledger's charges per day) and ``charges`` (what a charge request must be,
what posting it gives back, FreeTierDue).
"""

from services.billing.domain.charges import (
    INTERNAL_KEY_PREFIX,
    MAX_BATCH_ITEMS,
    Balance,
    BatchCharged,
    ChargeItem,
    FreeTierDue,
    ItemCharged,
    Posted,
    charge_entries,
    check_account_id,
    check_amount,
    check_key,
    reservation_id_for,
)
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
from services.billing.domain.usage import UsageDay, tally_usage, usage_since

__all__ = [
    "INTERNAL_KEY_PREFIX",
    "MAX_BATCH_ITEMS",
    "Account",
    "ApiKey",
    "ApiKeyMode",
    "Balance",
    "BatchCharged",
    "ChargeItem",
    "EntryKind",
    "FreeTierDue",
    "IssuedKey",
    "ItemCharged",
    "LedgerEntry",
    "NewEntry",
    "Posted",
    "Reservation",
    "ReservationState",
    "UsageDay",
    "billing_period",
    "charge_entries",
    "check_account_id",
    "check_amount",
    "check_key",
    "hash_secret",
    "issue_key",
    "looks_like_key",
    "next_period_start",
    "reservation_id_for",
    "tally_usage",
    "usage_since",
]
