"""Usage per UTC day, read from the ledger: leads charged and credits used, by source.

A single lead (``POST /v1/enrich/lead``, ``csv_row``) is one ``CHARGE`` entry on the balance; a
CSV job's row is one ``RESERVATION_CHARGE`` entry drawn on the job's hold. Holds and releases
move the balance but are not usage, so they are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from libs.errors import InvalidArgument
from services.billing.domain.models import EntryKind

__all__ = ["DEFAULT_USAGE_DAYS", "MAX_USAGE_DAYS", "USAGE_KINDS", "UsageDay", "tally_usage", "usage_since"]

DEFAULT_USAGE_DAYS = 30
MAX_USAGE_DAYS = 90
USAGE_KINDS = (EntryKind.CHARGE, EntryKind.RESERVATION_CHARGE)


@dataclass
class UsageDay:
    day: date
    single_leads: int = 0
    single_credits: int = 0
    csv_leads: int = 0
    csv_credits: int = 0


def usage_since(now: datetime, days: int) -> datetime:
    """The start (UTC midnight) of the first of ``days`` days ending today; checks ``days``."""
    days = days or DEFAULT_USAGE_DAYS
    if not 1 <= days <= MAX_USAGE_DAYS:
        raise InvalidArgument(
            f"days must be between 1 and {MAX_USAGE_DAYS}, got {days}", reason="INVALID_DAYS"
        )
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(), tzinfo=UTC)


def tally_usage(
    since: datetime, now: datetime, entries: Iterable[tuple[EntryKind, int, datetime]]
) -> list[UsageDay]:
    """One day per date from ``since`` to today, oldest first, each with the entries made on it."""
    first, last = since.date(), now.astimezone(UTC).date()
    days = [UsageDay(first + timedelta(days=n)) for n in range((last - first).days + 1)]
    for kind, amount, when in entries:
        index = (when.astimezone(UTC).date() - first).days
        if not 0 <= index < len(days):
            continue
        day = days[index]
        if kind == EntryKind.CHARGE:
            day.single_leads += 1
            day.single_credits += -amount
        elif kind == EntryKind.RESERVATION_CHARGE:
            day.csv_leads += 1
            day.csv_credits += -amount
    return days
