"""API keys: ``lm_live_<32 base62>`` / ``lm_test_<32 base62>`` (about 190 bits of randomness).

The secret is shown once; only its SHA-256 is stored. The key is random enough that a salted
slow hash would add nothing but latency to every authenticated request. The prefix
(``lm_live_`` plus 8 characters) names a key in listings and for revocation.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass

from libs.ids import random_base62

__all__ = ["PREFIX_CHARS", "ApiKeyMode", "IssuedKey", "hash_secret", "issue_key", "looks_like_key"]

SECRET_CHARS = 32
PREFIX_CHARS = 8
_KEY_RE = re.compile(rf"^lm_(live|test)_[0-9A-Za-z]{{{SECRET_CHARS}}}$")


class ApiKeyMode(enum.StrEnum):
    LIVE = "live"
    TEST = "test"


@dataclass(frozen=True)
class IssuedKey:
    secret: str
    prefix: str
    secret_hash: str
    mode: ApiKeyMode


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(mode: ApiKeyMode) -> IssuedKey:
    body = random_base62(SECRET_CHARS)
    secret = f"lm_{mode.value}_{body}"
    return IssuedKey(
        secret=secret,
        prefix=f"lm_{mode.value}_{body[:PREFIX_CHARS]}",
        secret_hash=hash_secret(secret),
        mode=mode,
    )


def looks_like_key(candidate: str) -> bool:
    """Cheap shape check before any lookup."""
    return bool(_KEY_RE.match(candidate))
