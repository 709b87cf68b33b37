"""What every servicer does alike at the proto edge: refuse a request without its account, and
write a time as a ``google.protobuf.Timestamp``."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from libs.errors import InvalidArgument

__all__ = ["require_account", "timestamp"]


def require_account(account_id: str) -> None:
    """INVALID_ARGUMENT ``ACCOUNT_ID_REQUIRED`` (field ``account_id``) when it is empty."""
    if not account_id:
        raise InvalidArgument(
            "account_id is required", reason="ACCOUNT_ID_REQUIRED", metadata={"field": "account_id"}
        )


def timestamp(value: datetime | None) -> Timestamp | None:
    """``value`` as a Timestamp (a naive datetime is UTC); None stays None, the field unset."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
