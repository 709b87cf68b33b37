"""Calendar months in UTC: the free tier is granted once per ``YYYY-MM``."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["billing_period", "next_period_start"]


def billing_period(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m")


def next_period_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)
