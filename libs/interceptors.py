"""Server interceptors: OpenTelemetry spans, one JSON log line per call, and error mapping.

Each wraps every handler kind (unary/stream in and out) around the same async context, so a
servicer method stays a plain translation from proto to domain and back.
"""

from __future__ import annotations

import logging
import time
import uuid
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc
from grpc_status import rpc_status
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode

from libs.errors import LeadmeshError, to_rpc_status
from libs.jsonlog import method_var, request_id_var
from libs.telemetry import extract_context, meter, tracer

__all__ = ["ErrorInterceptor", "LoggingInterceptor", "TracingInterceptor", "default_interceptors"]

log = logging.getLogger("leadmesh.rpc")
REQUEST_ID_KEY = "x-request-id"

_meter = meter("leadmesh.grpc")
_RPC_DURATION = _meter.create_histogram(
    "rpc.server.duration", unit="ms", description="Duration of gRPC calls served, by method and status"
)
_RPC_ERRORS = _meter.create_counter(
    "leadmesh.rpc.errors", description="gRPC calls that ended in an error, by method and reason"
)

Around = Callable[
    [grpc.HandlerCallDetails, grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]
]


def _wrap(handler: grpc.RpcMethodHandler, around: Around, details: grpc.HandlerCallDetails) -> Any:
    if handler.unary_unary:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with around(details, context):
                return await inner_uu(request, context)

        return handler._replace(unary_unary=unary_unary)
    if handler.unary_stream:
        inner_us = handler.unary_stream

        async def unary_stream(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            async with around(details, context):
                async for response in inner_us(request, context):
                    yield response

        return handler._replace(unary_stream=unary_stream)
    if handler.stream_unary:
        inner_su = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with around(details, context):
                return await inner_su(requests, context)

        return handler._replace(stream_unary=stream_unary)
    inner_ss = handler.stream_stream

    async def stream_stream(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        async with around(details, context):
            async for response in inner_ss(requests, context):
                yield response

    return handler._replace(stream_stream=stream_stream)


class _AroundInterceptor(grpc.aio.ServerInterceptor):
    @abstractmethod
    def around(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        """The async context every call of the wrapped handler runs in."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith("/grpc."):
            return handler
        wrapped: grpc.RpcMethodHandler = _wrap(handler, self.around, handler_call_details)
        return wrapped


class TracingInterceptor(_AroundInterceptor):
    """A SERVER span per call, child of the trace context found in the call's metadata."""

    @asynccontextmanager
    async def around(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        parent = extract_context(context.invocation_metadata())
        token = otel_context.attach(parent)
        try:
            with tracer("leadmesh.grpc").start_as_current_span(
                details.method.lstrip("/"), kind=SpanKind.SERVER, record_exception=False
            ) as span:
                span.set_attribute("rpc.system", "grpc")
                try:
                    yield
                except BaseException as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise
        finally:
            otel_context.detach(token)


class LoggingInterceptor(_AroundInterceptor):
    """Sets the method and request id for the call's logs, and logs the call's outcome once."""

    @asynccontextmanager
    async def around(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        metadata = dict(context.invocation_metadata() or ())
        request_id = str(metadata.get(REQUEST_ID_KEY) or uuid.uuid4().hex)
        method_token = method_var.set(details.method)
        request_token = request_id_var.set(request_id)
        started = time.perf_counter()
        code = "OK"
        try:
            yield
        except grpc.aio.AbortError:
            code = _code_name(context)
            raise
        except BaseException:
            code = "CANCELLED_OR_FAILED"
            raise
        finally:
            elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            level = logging.INFO if code == "OK" else logging.WARNING
            log.log(level, "rpc", extra={"code": code, "duration_ms": elapsed_ms})
            _RPC_DURATION.record(elapsed_ms, {"rpc.method": details.method, "rpc.grpc.status_code": code})
            method_var.reset(method_token)
            request_id_var.reset(request_token)


def _code_name(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    code = context.code()
    return str(code.name) if isinstance(code, grpc.StatusCode) else str(code)


class ErrorInterceptor(_AroundInterceptor):
    """Turns domain errors into rich statuses; unexpected errors into INTERNAL without their text."""

    @asynccontextmanager
    async def around(
        self, details: grpc.HandlerCallDetails, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        try:
            yield
        except grpc.aio.AbortError:
            raise
        except LeadmeshError as error:
            _RPC_ERRORS.add(1, {"rpc.method": details.method, "error.reason": error.reason})
            await context.abort_with_status(rpc_status.to_status(to_rpc_status(error)))
        except Exception:
            _RPC_ERRORS.add(1, {"rpc.method": details.method, "error.reason": "INTERNAL"})
            log.exception("unexpected error")
            internal = LeadmeshError(f"internal error (request {request_id_var.get()})", reason="INTERNAL")
            await context.abort_with_status(rpc_status.to_status(to_rpc_status(internal)))


def default_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """Outermost first: the span, then the log line, then the error mapping."""
    return [TracingInterceptor(), LoggingInterceptor(), ErrorInterceptor()]
