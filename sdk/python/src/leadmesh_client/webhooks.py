"""Checking a webhook's ``Leadmesh-Signature`` in your receiver.

The header is ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` (several ``v1=``
while a secret is rotated); the secret is ``client.webhooks.secret().secret``. Verify the raw body
as received, before parsing it::

    from leadmesh_client.webhooks import verify

    if not verify(secret, request.headers["Leadmesh-Signature"], raw_body):
        return 400
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "Leadmesh-Signature"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header leadmesh would send with ``body`` (to test a receiver)."""
    at = int(time.time()) if timestamp is None else timestamp
    return f"t={at},v1={_digest(secret, at, body)}"


def verify(
    secret: str, header: str | None, body: bytes | str, tolerance: float = 300, *, now: float | None = None
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, sent within ``tolerance`` seconds of now
    (older is refused: a replayed delivery). False for a missing or malformed header."""
    if not header or not secret:
        return False
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, equals, value = item.strip().partition("=")
        if not equals or not value:
            return False
        if key == "t":
            if timestamp is not None or len(value) > 12 or not (value.isascii() and value.isdigit()):
                return False
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, raw).encode()
    return any(hmac.compare_digest(expected, candidate.encode()) for candidate in candidates)
