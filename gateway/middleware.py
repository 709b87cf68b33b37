"""Request ids and a server span on every request, a JSON 500 for anything unexpected, and a 413
for a request body over its path's limit."""

from __future__ import annotations

import logging
import re
import time

from opentelemetry.trace import Span, SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import error_response
from libs.ids import new_id
from libs.jsonlog import request_id_var
from libs.telemetry import extract_context, meter, tracer

__all__ = ["UPLOAD_PATH", "BodyLimitMiddleware", "RequestIdMiddleware"]

log = logging.getLogger("leadmesh.gateway")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The CSV upload and the paths under it (not ``/v1/enrich/csv_row``) take the upload limit.
UPLOAD_PATH = "/v1/enrich/csv"
_HTTP_DURATION = meter("leadmesh.gateway").create_histogram(
    "http.server.request.duration", unit="s", description="Duration of HTTP requests, by route and status"
)


class RequestIdMiddleware:
    """Takes a caller's ``X-Request-Id`` when it is safe to echo, else makes one; puts it in the
    logs, in outgoing gRPC metadata (via the context variable) and on the response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else new_id("req")
        token = request_id_var.set(request_id)
        try:
            with tracer("leadmesh.gateway").start_as_current_span(
                f"{scope['method']} {scope['path']}",
                kind=SpanKind.SERVER,
                context=extract_context(_header_pairs(scope)),
            ) as span:
                await self._handle(scope, receive, send, request_id, span)
        finally:
            request_id_var.reset(token)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: str, span: Span) -> None:
        started = False
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                span.set_attribute("http.response.status_code", status)
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if started:
                raise
            await error_response(500, "INTERNAL", "internal error")(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            span.update_name(f"{scope['method']} {route}")
            attributes = {
                "http.request.method": scope["method"],
                "http.route": route,
                "http.response.status_code": status,
            }
            _HTTP_DURATION.record(time.perf_counter() - began, attributes)


def _header_pairs(scope: Scope) -> list[tuple[str, str]]:
    return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in scope["headers"]]


class _BodyTooLarge(Exception):
    """Raised to the application from ``receive`` once the body has passed the limit."""


class BodyLimitMiddleware:
    """Refuses a request body over its path's limit with a 413 in the API's error shape: before
    reading anything when ``Content-Length`` says so, else as soon as the bytes received pass it
    (a chunked body), whatever the application does with the error it then gets from ``receive``.

    Pure ASGI, so that a streamed upload is counted as it arrives and never buffered here."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int, upload_path: str = UPLOAD_PATH):
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.upload_path = upload_path

    def limit_for(self, path: str) -> int:
        if path == self.upload_path or path.startswith(self.upload_path + "/"):
            return self.upload_limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(limit, scope, receive, send)
            return
        received = 0
        over = started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # whatever the application answers to the error, the client gets the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        if over and not started:
            await _refuse(limit, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    message = f"the request body is larger than this endpoint's limit of {limit} bytes"
    await error_response(413, "PAYLOAD_TOO_LARGE", message)(scope, receive, send)
