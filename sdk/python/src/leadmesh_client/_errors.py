"""The exceptions of the client: one class per kind of failure, all under ``LeadmeshError``.

An error answer of the API is ``{"error": {"type", "code", "message", "request_id"}}``; its class
is chosen by the HTTP status, and what the headers add is kept (the balance behind a 402, the
``Retry-After`` of a 429, the field a 400 is about).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "ConflictError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "LeadmeshError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "error_from_answer",
]


class LeadmeshError(Exception):
    """Every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [f"{self.status}" if self.status else "", self.code or "", self.message]
        text = " ".join(part for part in parts if part)
        return f"{text} (request {self.request_id})" if self.request_id else text


class APIConnectionError(LeadmeshError):
    """The API could not be reached, or the connection broke before an answer (after the retries)."""


class APITimeoutError(APIConnectionError):
    """No answer within the client's timeout (after the retries)."""


class APIStatusError(LeadmeshError):
    """The API answered with an error status; ``body`` is the answer's JSON (or None)."""

    status: int

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, status=status, code=code, request_id=request_id)
        self.body = body


class InvalidRequestError(APIStatusError):
    """400, 405, 413, 415 or 422: the request itself is wrong; ``field`` names the input at fault
    when the API says which."""

    field: str | None = None


class AuthenticationError(APIStatusError):
    """401: no API key, or one that is unknown or revoked."""


class InsufficientCreditsError(APIStatusError):
    """402: the account has too few credits; ``balance`` is what it has."""

    balance: int | None = None


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such record, job or route for this account."""


class ConflictError(APIStatusError):
    """409: a reused idempotency key with another request, a stale ``If-Match``, a job that cannot
    change any more."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` is the seconds the API asked to wait."""

    retry_after: float | None = None


class APIError(APIStatusError):
    """5xx: the API (or a service behind it) failed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: InvalidRequestError,
    409: ConflictError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _field(message: str, headers: Mapping[str, str]) -> str | None:
    """The input at fault: ``X-Error-Field``, else the path before ``:`` of a validation message
    (``max_contacts: Input should be ...``)."""
    if headers.get("x-error-field"):
        return headers["x-error-field"]
    where, colon, _ = message.partition(":")
    if colon and where and " " not in where and where != "request":
        return where
    return None


def error_from_answer(status: int, headers: Mapping[str, str], content: bytes) -> APIStatusError:
    """The exception for an error answer (``headers`` as an httpx.Headers: any case of name)."""
    try:
        body: Any = json.loads(content) if content else None
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or content[:300].decode("utf-8", "replace") or f"HTTP {status}")
    kind = _BY_STATUS.get(status) or (APIError if status >= 500 else APIStatusError)
    exc = kind(
        message,
        status=status,
        code=error.get("code"),
        request_id=error.get("request_id") or headers.get("x-request-id"),
        body=body,
    )
    if isinstance(exc, InvalidRequestError):
        exc.field = _field(message, headers)
    elif isinstance(exc, InsufficientCreditsError):
        balance = _number(headers.get("x-credits-remaining"))
        exc.balance = int(balance) if balance is not None else None
    elif isinstance(exc, RateLimitError):
        exc.retry_after = _number(headers.get("retry-after"))
    return exc
