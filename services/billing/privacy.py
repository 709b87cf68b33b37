"""Billing keeps no people: accounts, key hashes, the ledger and reservations name accounts,
amounts and idempotency keys only."""

from __future__ import annotations

from libs.privacy import PersonalData

__all__ = ["declared"]


def declared() -> PersonalData:
    return PersonalData(
        service="billing",
        holdings=(),
        no_personal_data=frozenset(
            {"billing_accounts", "billing_api_keys", "billing_ledger", "billing_reservations"}
        ),
    )
