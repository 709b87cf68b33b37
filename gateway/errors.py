"""The one JSON error model of the API, and the one place gRPC status becomes HTTP status.

Every error body is ``{"error": {"type", "code", "message", "request_id"}}``: ``type`` is the
class of error a client branches on, ``code`` the stable reason (e.g. ``INSUFFICIENT_CREDITS``).
"""

from __future__ import annotations

import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.errors import LeadmeshError, error_from_rpc
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
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "UNSUPPORTED_ENCODING": 415,
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
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _rpc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, grpc.aio.AioRpcError)
    error = error_from_rpc(exc)
    status = status_for(error)
    if status >= 500:
        log.warning("service call failed", extra={"grpc_code": str(exc.code()), "reason": error.reason})
        message = "a service is unavailable; retry shortly" if status == 503 else "internal error"
        return error_response(status, error.reason, message)
    return error_response(status, error.reason, error.message)


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
