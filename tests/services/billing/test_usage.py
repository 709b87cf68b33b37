"""Usage per UTC day from ledger charges: which day an entry counts on, and by which source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from libs.errors import InvalidArgument
from services.billing.domain import EntryKind, tally_usage, usage_since

NOW = datetime(2026, 3, 10, 0, 30, tzinfo=UTC)


def test_entries_count_on_their_utc_day_by_source() -> None:
    since = usage_since(NOW, 3)
    assert since == datetime(2026, 3, 8, tzinfo=UTC)
    entries = [
        (EntryKind.CHARGE, -1, datetime(2026, 3, 7, 23, 59, tzinfo=UTC)),  # before the window
        (EntryKind.CHARGE, -11, datetime(2026, 3, 8, 0, 0, tzinfo=UTC)),
        (EntryKind.RESERVATION_CHARGE, -1, datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC)),
        # 01:00 at UTC+2 is 23:00 UTC the day before.
        (EntryKind.RESERVATION_CHARGE, -1, datetime(2026, 3, 10, 1, 0, tzinfo=timezone(timedelta(hours=2)))),
        (EntryKind.CHARGE, -1, NOW),
    ]
    days = tally_usage(since, NOW, entries)
    assert [d.day.isoformat() for d in days] == ["2026-03-08", "2026-03-09", "2026-03-10"]
    assert [(d.single_leads, d.single_credits, d.csv_leads, d.csv_credits) for d in days] == [
        (1, 11, 0, 0),
        (0, 0, 2, 2),
        (1, 1, 0, 0),
    ]


def test_the_window_is_thirty_days_by_default_and_at_most_ninety() -> None:
    assert len(tally_usage(usage_since(NOW, 0), NOW, [])) == 30
    assert len(tally_usage(usage_since(NOW, 90), NOW, [])) == 90
    for days in (-1, 91):
        with pytest.raises(InvalidArgument):
            usage_since(NOW, days)
