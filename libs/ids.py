"""Identifiers: time-ordered (so ``_id`` sorts newest-last) with a random tail, and page tokens."""

from __future__ import annotations

import base64
import binascii
import secrets
import string
import time

from libs.errors import InvalidArgument

__all__ = [
    "BASE62",
    "decode_page_token",
    "encode_page_token",
    "id_time",
    "new_id",
    "page_size",
    "random_base62",
]

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def random_base62(length: int) -> str:
    """``length`` characters of base62, about 5.95 bits of randomness each: one read of the OS's
    randomness (not one per character), bytes of 248 and above skipped so that none is biased."""
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(BASE62[byte % 62] for byte in secrets.token_bytes(length + 8) if byte < 248)
    return "".join(chars[:length])


def new_id(prefix: str, random_chars: int = 10) -> str:
    """e.g. ``le_0193a1b2c3d4Xy7...``: 12 hex digits of milliseconds, then random base62."""
    return f"{prefix}_{time.time_ns() // 1_000_000:012x}{random_base62(random_chars)}"


def id_time(identifier: str) -> float | None:
    """When a :func:`new_id` id was made (seconds since the epoch), or None for another string."""
    _, _, tail = identifier.partition("_")
    try:
        return int(tail[:12], 16) / 1000 if len(tail) > 12 else None
    except ValueError:
        return None


_TOKEN_TAG = "lm1:"


def encode_page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode((_TOKEN_TAG + last_id).encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    """The id a page token points after; a token that was not made here is INVALID_ARGUMENT."""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith(_TOKEN_TAG) or len(raw) == len(_TOKEN_TAG):
        raise InvalidArgument("page_token is malformed", reason="INVALID_PAGE_TOKEN")
    return raw[len(_TOKEN_TAG) :]


def page_size(requested: int, default: int = 20, maximum: int = 100) -> int:
    if requested < 0:
        raise InvalidArgument("page_size must not be negative", reason="INVALID_PAGE_SIZE")
    return min(requested or default, maximum)
