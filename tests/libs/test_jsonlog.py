"""libs.jsonlog: one JSON object per line with service, level, message, request id and trace id."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from libs.errors import FailedPrecondition
from libs.grpc_server import GrpcServer
from libs.jsonlog import JsonFormatter, method_var, request_id_var, setup_logging
from libs.telemetry import setup_tracing

SERVICE = "leadmesh.test.v1.Logged"
NOISY = ("aio_pika", "aiormq", "pymongo", "httpx", "uvicorn.access")


@pytest.fixture(scope="module", autouse=True)
def tracing() -> None:
    # One SDK provider per process: reuse one another test module installed.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        setup_tracing("tests", None)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """setup_logging("billing") with its handler writing to a buffer; the root logger restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_noisy = {name: logging.getLogger(name).level for name in NOISY}
    buffer = io.StringIO()
    try:
        setup_logging("billing", "INFO")
        [handler] = root.handlers
        assert isinstance(handler, logging.StreamHandler)
        assert handler.stream is sys.stderr
        handler.setStream(buffer)
        yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_noisy.items():
            logging.getLogger(name).setLevel(level)


def lines_of(buffer: io.StringIO) -> list[dict[str, Any]]:
    entries = []
    for line in buffer.getvalue().splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict)
        entries.append(entry)
    return entries


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("leadmesh.test", logging.WARNING, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def test_a_record_is_one_json_object_with_service_level_and_message() -> None:
    line = JsonFormatter("billing").format(record("charged %d credits", 3))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["service"] == "billing"
    assert entry["level"] == "warning"
    assert entry["message"] == "charged 3 credits"
    assert entry["logger"] == "leadmesh.test"
    assert entry["time"].endswith("+00:00")
    assert "request_id" not in entry
    assert "trace_id" not in entry
    assert "method" not in entry


def test_request_id_and_method_come_from_the_call_context() -> None:
    request_token = request_id_var.set("req-99")
    method_token = method_var.set("/leadmesh.billing.v1.BillingService/Charge")
    try:
        entry = json.loads(JsonFormatter("billing").format(record("charged")))
    finally:
        request_id_var.reset(request_token)
        method_var.reset(method_token)
    assert entry["request_id"] == "req-99"
    assert entry["method"] == "/leadmesh.billing.v1.BillingService/Charge"


def test_trace_id_inside_a_span() -> None:
    with trace.get_tracer("tests").start_as_current_span("work") as span:
        entry = json.loads(JsonFormatter("billing").format(record("inside")))
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_extra_fields_are_kept_and_unserialisable_values_become_text() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque-thing"

    entry = json.loads(
        JsonFormatter("billing").format(record("rpc", code="OK", duration_ms=1.5, obj=Opaque()))
    )
    assert entry["code"] == "OK"
    assert entry["duration_ms"] == 1.5
    assert entry["obj"] == "opaque-thing"
    assert "args" not in entry
    assert "msg" not in entry


def test_setup_logging_writes_json_lines_and_respects_the_level(logs: io.StringIO) -> None:
    log = logging.getLogger("leadmesh.test")
    log.debug("too chatty")
    log.info("first\nmessage with a newline")
    token = request_id_var.set("req-1")
    try:
        with trace.get_tracer("tests").start_as_current_span("work") as span:
            log.warning("second", extra={"account_id": "ac_1"})
    finally:
        request_id_var.reset(token)
    first, second = lines_of(logs)
    assert first["message"] == "first\nmessage with a newline"
    assert first["service"] == "billing"
    assert first["level"] == "info"
    assert "request_id" not in first
    assert second["request_id"] == "req-1"
    assert second["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert second["account_id"] == "ac_1"


def test_an_exception_is_logged_on_the_same_line(logs: io.StringIO) -> None:
    try:
        raise ValueError("bad lead")
    except ValueError:
        logging.getLogger("leadmesh.test").exception("failed")
    [entry] = lines_of(logs)
    assert entry["level"] == "error"
    assert "ValueError: bad lead" in entry["exception"]
    assert "Traceback" in entry["exception"]


async def hello(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    logging.getLogger("leadmesh.test").info("handling")
    return b"hi"


async def refuse(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    raise FailedPrecondition("no credits", reason="INSUFFICIENT_CREDITS")


@pytest.fixture
async def logged_server(logs: io.StringIO) -> AsyncIterator[grpc.aio.Channel]:
    def add(server: grpc.aio.Server) -> None:
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Hello": grpc.unary_unary_rpc_method_handler(hello),
                "Refuse": grpc.unary_unary_rpc_method_handler(refuse),
            },
        )
        server.add_generic_rpc_handlers((handler,))

    server = GrpcServer(name="logged", address="127.0.0.1:0", services={SERVICE: add}, grace=0.5)
    port = await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop()


async def test_a_served_call_logs_its_method_request_id_trace_id_and_outcome(
    logged_server: grpc.aio.Channel, logs: io.StringIO
) -> None:
    metadata = (("x-request-id", "req-from-gateway"),)
    assert await logged_server.unary_unary(f"/{SERVICE}/Hello")(b"", metadata=metadata, timeout=2.0) == b"hi"
    entries = [e for e in lines_of(logs) if e.get("request_id") == "req-from-gateway"]
    handling = next(e for e in entries if e["message"] == "handling")
    rpc = next(e for e in entries if e["message"] == "rpc")
    for entry in (handling, rpc):
        assert entry["service"] == "billing"
        assert entry["method"] == f"/{SERVICE}/Hello"
        assert len(entry["trace_id"]) == 32
    assert handling["trace_id"] == rpc["trace_id"]
    assert rpc["code"] == "OK"
    assert rpc["duration_ms"] >= 0


async def test_a_refused_call_logs_its_status_code(
    logged_server: grpc.aio.Channel, logs: io.StringIO
) -> None:
    metadata = (("x-request-id", "req-refused"),)
    with pytest.raises(grpc.aio.AioRpcError):
        await logged_server.unary_unary(f"/{SERVICE}/Refuse")(b"", metadata=metadata, timeout=2.0)
    [rpc] = [e for e in lines_of(logs) if e.get("request_id") == "req-refused" and e["message"] == "rpc"]
    assert rpc["level"] == "warning"
    assert rpc["code"] == "FAILED_PRECONDITION"
