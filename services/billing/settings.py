"""Billing's settings (``LEADMESH_`` environment)."""

from __future__ import annotations

from pydantic import Field

from libs.settings import CommonSettings

__all__ = ["BillingSettings"]


class BillingSettings(CommonSettings):
    # Credits granted once per calendar month (UTC) to every account.
    free_tier_monthly_credits: int = Field(default=30, ge=0)
    # Seconds between sweeps that finish postings and reservations a crash left unfinished.
    recovery_interval: float = Field(default=60.0, gt=0)
    # An account's charges made while this many of its charges are being posted wait and are
    # then posted together (CreditLedger.charge); 1 groups the most.
    billing_charge_coalesce_limit: int = Field(default=1, ge=1)
