"""What a caller may ask the ledger to move and what it gets back: the rules of keys, amounts and
items of a batch (pure, raising :class:`libs.errors.InvalidArgument`), a reservation's id, and the
results of postings.

Keys that the ledger makes itself start with ``lm:`` (``lm:free_tier:2026-11``,
``lm:reserve:<key>``, ``lm:release:<reservation>``); callers cannot use that prefix, so their
keys never collide with the ledger's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from libs.errors import InvalidArgument
from services.billing.domain.models import Account, EntryKind, LedgerEntry, NewEntry

__all__ = [
    "INTERNAL_KEY_PREFIX",
    "MAX_AMOUNT",
    "MAX_BATCH_ITEMS",
    "MAX_KEY_LENGTH",
    "Balance",
    "BatchCharged",
    "ChargeItem",
    "FreeTierDue",
    "ItemCharged",
    "Posted",
    "charge_entries",
    "check_account_id",
    "check_amount",
    "check_key",
    "reservation_id_for",
]

MAX_KEY_LENGTH = 200
MAX_AMOUNT = 1_000_000_000
MAX_BATCH_ITEMS = 1_000
INTERNAL_KEY_PREFIX = "lm:"


class FreeTierDue(Exception):
    """The account's free tier for the current month has not been granted yet."""


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


@dataclass(frozen=True)
class ChargeItem:
    """One charge of a batch on a reservation, e.g. a row of a CSV job."""

    idempotency_key: str
    amount: int
    description: str = ""


@dataclass(frozen=True)
class ItemCharged:
    entry: LedgerEntry
    replayed: bool


@dataclass(frozen=True)
class BatchCharged:
    # One per item, in the order of the items.
    results: list[ItemCharged]
    # The reservation's remaining credits afterwards.
    remaining: int


def check_key(key: str) -> str:
    if not key:
        raise InvalidArgument("idempotency_key is required", reason="IDEMPOTENCY_KEY_REQUIRED")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(f"idempotency_key is longer than {MAX_KEY_LENGTH} characters")
    if key.startswith(INTERNAL_KEY_PREFIX):
        raise InvalidArgument(
            f"idempotency keys starting with {INTERNAL_KEY_PREFIX!r} are reserved",
            reason="IDEMPOTENCY_KEY_RESERVED",
        )
    return key


def check_amount(amount: int) -> int:
    if amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidArgument(
            f"amount must be between 1 and {MAX_AMOUNT}, got {amount}", reason="INVALID_AMOUNT"
        )
    return amount


def check_account_id(account_id: str) -> str:
    if not account_id:
        raise InvalidArgument("account_id is required", reason="ACCOUNT_ID_REQUIRED")
    return account_id


def reservation_id_for(account_id: str, key: str) -> str:
    """Deterministic, so a retried Reserve finds the reservation its first attempt made."""
    return "res_" + hashlib.sha256(f"{account_id}\0{key}".encode()).hexdigest()[:24]


def charge_entries(
    account_id: str, reservation_id: str, items: Sequence[ChargeItem], *, distinct: bool
) -> list[NewEntry]:
    """The charges of ``items``, on the reservation if one is given, else on the account."""
    check_account_id(account_id)
    if not items:
        raise InvalidArgument("at least one item is required", reason="ITEMS_REQUIRED")
    if len(items) > MAX_BATCH_ITEMS:
        raise InvalidArgument(
            f"at most {MAX_BATCH_ITEMS} items per batch, got {len(items)}", reason="TOO_MANY_ITEMS"
        )
    news, seen = [], set()
    for n, item in enumerate(items):
        try:
            key, amount = check_key(item.idempotency_key), check_amount(item.amount)
        except InvalidArgument as error:
            raise InvalidArgument(f"items[{n}]: {error.message}", reason=error.reason) from None
        if distinct and key in seen:
            raise InvalidArgument(
                f"items[{n}]: idempotency_key {key!r} appears twice", reason="DUPLICATE_IDEMPOTENCY_KEY"
            )
        seen.add(key)
        news.append(
            NewEntry(
                account_id,
                key,
                EntryKind.RESERVATION_CHARGE if reservation_id else EntryKind.CHARGE,
                -amount,
                item.description,
                reservation_id=reservation_id,
                draws_on_reservation=bool(reservation_id),
            )
        )
    return news
