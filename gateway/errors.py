"""The one JSON error model of the API, and the one place gRPC status becomes HTTP status.

Every error body is ``{"error": {"type", "code", "message", "request_id"}}``: ``type`` is the
class of error a client branches on, ``code`` the stable reason (e.g. ``INSUFFICIENT_CREDITS``).

Only a status one of our services produced (it carries our ``ErrorInfo``) passes its message on;
a status gRPC made itself, on either side (a message over the size limit, no connection, ...),
answers a fixed message for its HTTP status, never gRPC's own text. Routes raise ``ApiError`` or
let a call's error propagate; the headers a client acts on are set here too: the Bearer challenge
of every 401, the balance behind a 402 (``X-Credits-Remaining``, and ``X-Credits-Required`` when
known), the field a 400 is about (``X-Error-Field``), the ``Retry-After`` and ``X-RateLimit-*`` of
every 429.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.errors import ERROR_DOMAIN, LeadmeshError, error_from_rpc
from libs.jsonlog import request_id_var

__all__ = ["ApiError", "error_response", "install_error_handlers", "status_for"]

log = logging.getLogger("leadmesh.gateway")

_HTTP_TYPES = {
    400: "invalid_request",
    401: "authentication_error",
    402: "insufficient_credits",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}

_GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
}

# Reasons that need a more precise status than their gRPC code gives.
_REASON_TO_HTTP = {
    "INSUFFICIENT_CREDITS": 402,
    "PAYLOAD_TOO_LARGE": 413,
    "TOO_MANY_ROWS": 413,
    "FILE_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "UNSUPPORTED_ENCODING": 415,
    "INVALID_CSV": 422,
    "NO_MAPPED_COLUMNS": 422,
    # Past LEADMESH_RECORD_RETENTION_DAYS: purged, not unknown.
    "ENRICHMENT_EXPIRED": 410,
    "JOB_EXPIRED": 410,
    "WEBHOOK_PORT_NOT_ALLOWED": 422,
}

# What a client reads when the status did not come from our services.
_GENERIC_MESSAGES = {
    400: "invalid request",
    401: "authentication failed",
    403: "permission denied",
    404: "not found",
    409: "conflict; retry",
    410: "gone: past the retention period",
    413: "request too large",
    429: "too many requests; retry shortly",
    503: "a service is unavailable; retry shortly",
}


class ApiError(Exception):
    """An error the gateway itself raises (bad header, missing key, ...)."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _HTTP_TYPES.get(status, "error").upper()
        self.headers = headers or {}


def status_for(error: LeadmeshError) -> int:
    return _REASON_TO_HTTP.get(error.reason) or _GRPC_TO_HTTP.get(error.code, 500)


def _headers(status: int, metadata: Mapping[str, str]) -> dict[str, str]:
    """What a client acts on beside the body, from the status and the error's metadata."""
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if status == 402:
        required = {"X-Credits-Required": metadata["required"]} if metadata.get("required") else {}
        return {"X-Credits-Remaining": metadata.get("balance", "0"), **required}
    if status == 400 and metadata.get("field"):
        return {"X-Error-Field": metadata["field"]}
    if status == 429:  # a limit a service enforces: its size and when to retry, if it said
        wait = metadata.get("retry_after", "1")
        limit = metadata.get("limit", "0")
        return {
            "Retry-After": wait,
            "X-RateLimit-Limit": limit,
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": wait,
        }
    return {}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "error": {
            "type": _HTTP_TYPES.get(status, "error"),
            "code": code,
            "message": message,
            "request_id": request_id_var.get(),
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, {**_headers(exc.status, {}), **exc.headers})


async def _rpc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, grpc.aio.AioRpcError)
    if not _from_our_services(exc):
        return _unexplained_rpc_error(exc)
    error = error_from_rpc(exc)
    status = status_for(error)
    if status >= 500:
        log.warning("service call failed", extra={"grpc_code": str(exc.code()), "reason": error.reason})
        return error_response(status, error.reason, _GENERIC_MESSAGES.get(status, "internal error"))
    return error_response(status, error.reason, error.message, _headers(status, error.metadata))


def _from_our_services(exc: grpc.aio.AioRpcError) -> bool:
    """Whether the status carries our ErrorInfo, i.e. one of our services raised it."""
    try:
        status = rpc_status.from_call(exc)
    except ValueError:  # details that contradict the status: not ours
        return False
    if status is None:
        return False
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return bool(info.domain == ERROR_DOMAIN)
    return False


def _unexplained_rpc_error(exc: grpc.aio.AioRpcError) -> JSONResponse:
    """A status gRPC made (e.g. RESOURCE_EXHAUSTED for a message over the size limit): a fixed
    message, and a message too large is the client's 413, not a rate limit."""
    code = exc.code() or grpc.StatusCode.UNKNOWN
    log.warning("service call failed in gRPC", extra={"grpc_code": str(code), "grpc_details": exc.details()})
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return error_response(413, "PAYLOAD_TOO_LARGE", _GENERIC_MESSAGES[413])
    status = _GRPC_TO_HTTP.get(code, 500)
    return error_response(
        status, code.name, _GENERIC_MESSAGES.get(status, "internal error"), _headers(status, {})
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for item in exc.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part not in ("body", "query", "header"))
        problems.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
    return error_response(422, "VALIDATION_ERROR", "; ".join(problems) or "invalid request")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return error_response(exc.status_code, _HTTP_TYPES.get(exc.status_code, "error").upper(), message)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(grpc.aio.AioRpcError, _rpc_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
