"""The documented exception hierarchy of leadmesh and its one mapping to gRPC status.

Domain code raises a :class:`LeadmeshError` subclass with a stable UPPER_SNAKE ``reason`` and a
human message. The server interceptor turns it into a gRPC status carrying a
``google.rpc.ErrorInfo`` detail (AIP-193); clients turn an ``AioRpcError`` back with
:func:`error_from_rpc`. Unexpected exceptions never reach a client as text.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

__all__ = [
    "ERROR_DOMAIN",
    "AlreadyExists",
    "Conflict",
    "DeadlineExceeded",
    "FailedPrecondition",
    "InvalidArgument",
    "LeadmeshError",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "error_from_parts",
    "error_from_rpc",
    "to_rpc_status",
]

ERROR_DOMAIN = "leadmesh.io"


class LeadmeshError(Exception):
    """Base of every error a client may see. ``reason`` is stable; ``message`` is for people."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"

    def __init__(self, message: str, reason: str | None = None, metadata: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})


class InvalidArgument(LeadmeshError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"


class NotFound(LeadmeshError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(LeadmeshError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(LeadmeshError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class Conflict(LeadmeshError):
    """A concurrent or contradictory write, e.g. an idempotency key reused with another body."""

    code = grpc.StatusCode.ABORTED
    default_reason = "CONFLICT"


class Unauthenticated(LeadmeshError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(LeadmeshError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class ResourceExhausted(LeadmeshError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(LeadmeshError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceeded(LeadmeshError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "DEADLINE_EXCEEDED"


_BY_CODE: dict[grpc.StatusCode, type[LeadmeshError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Conflict,
        Unauthenticated,
        PermissionDenied,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
    )
}

_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


def to_rpc_status(error: LeadmeshError) -> status_pb2.Status:
    """The rich gRPC status of a domain error, with its ErrorInfo detail."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=[detail])


def error_from_parts(
    code: grpc.StatusCode | int, message: str, reason: str = "", metadata: Mapping[str, str] | None = None
) -> LeadmeshError:
    """The domain error of a status code (or its number) and ErrorInfo's reason and metadata, e.g.
    a failed item of a call that answers each item's outcome."""
    if isinstance(code, int):
        code = _BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)
    cls = _BY_CODE.get(code, LeadmeshError)
    error = cls(message or reason or code.name, reason=reason or code.name, metadata=metadata)
    if cls is LeadmeshError:
        error.code = code
    return error


def error_from_rpc(exc: grpc.aio.AioRpcError) -> LeadmeshError:
    """The domain error behind a failed call: its class from the code, its reason from ErrorInfo."""
    code = exc.code()
    reason = code.name if code is not None else "UNKNOWN"
    metadata: dict[str, str] = {}
    status = rpc_status.from_call(exc)
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
    return error_from_parts(code or grpc.StatusCode.UNKNOWN, exc.details() or reason, reason, metadata)
