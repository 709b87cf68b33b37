"""libs.protos: the account check and the timestamps every servicer shares."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.errors import InvalidArgument
from libs.protos import require_account, timestamp


def test_a_request_without_its_account_is_invalid_argument_on_that_field() -> None:
    require_account("acct_1")
    with pytest.raises(InvalidArgument) as caught:
        require_account("")
    assert (caught.value.reason, caught.value.metadata) == ("ACCOUNT_ID_REQUIRED", {"field": "account_id"})


def test_timestamps_keep_the_instant_and_none_stays_unset() -> None:
    when = datetime(2025, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
    stamp = timestamp(when)
    assert stamp is not None and stamp.ToDatetime(tzinfo=UTC) == when
    naive = timestamp(when.replace(tzinfo=None))
    assert naive is not None and naive.ToDatetime(tzinfo=UTC) == when
    assert timestamp(None) is None
