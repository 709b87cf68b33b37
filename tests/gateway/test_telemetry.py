"""One trace across the gateway, a gRPC service, the store and a RabbitMQ consumer; and the
metrics operators read."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from leadmesh.batch.v1 import batch_events_pb2
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from libs import amqp
from libs.telemetry import inject_headers
from tests.gateway.stack import Stack
from tests.waiting import eventually


async def test_one_trace_spans_gateway_service_store_and_queue_consumer(
    stack: Stack, spans: InMemorySpanExporter, amqp_url: str
) -> None:
    _, key = await stack.new_account()
    connection = await amqp.connect(amqp_url)

    async def handle(message: batch_events_pb2.ChunkReady, incoming: Any) -> None:
        pass

    try:
        channel = await connection.channel()
        spec = amqp.QueueSpec("trace.test", ("trace.test.ready",), max_attempts=1)
        await amqp.consume(channel, spec, batch_events_pb2.ChunkReady, handle, prefetch=1)
        publisher = await amqp.Publisher.open(connection)
        spans.clear()
        with trace.get_tracer("tests").start_as_current_span("upload") as root:
            response = await stack.http.get(
                "/v1/credits", headers={"Authorization": f"Bearer {key}", **inject_headers()}
            )
            await publisher.publish("trace.test.ready", batch_events_pb2.ChunkReady(job_id="j1"))
        assert response.status_code == 200
        trace_id = root.get_span_context().trace_id
        # Each ends once its work is done (the consumer's once the message is acked).
        expected = {
            (SpanKind.SERVER, "GET /v1/credits"),
            (SpanKind.SERVER, "leadmesh.billing.v1.BillingService/Authenticate"),
            (SpanKind.CONSUMER, "process trace.test"),
        }
        await eventually(
            lambda: (
                expected
                <= {(s.kind, s.name) for s in spans.get_finished_spans() if s.context.trace_id == trace_id}
            )
        )
    finally:
        await connection.close()

    in_trace = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in in_trace}

    def named(kind: SpanKind, name: str) -> ReadableSpan:
        found = [s for s in in_trace if s.kind == kind and s.name == name]
        assert found, f"no {kind} span {name!r} in {sorted(s.name for s in in_trace)}"
        return found[0]

    def ancestors(span: ReadableSpan) -> list[str]:
        names = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            names.append(span.name)
        return names

    gateway = named(SpanKind.SERVER, "GET /v1/credits")
    billing = named(SpanKind.SERVER, "leadmesh.billing.v1.BillingService/Authenticate")
    store = next(
        s for s in in_trace if s.kind == SpanKind.CLIENT and s.attributes.get("db.system") == "mongodb"
    )
    consumer = named(SpanKind.CONSUMER, "process trace.test")
    assert gateway.name in ancestors(billing)
    assert {billing.name, gateway.name} <= set(ancestors(store)) or gateway.name in ancestors(store)
    assert "upload" in ancestors(consumer)


def _points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


async def test_requests_latency_errors_and_credits_are_measured(
    stack: Stack, metric_reader: InMemoryMetricReader
) -> None:
    account_id, key = await stack.new_account()
    await stack.http.get("/v1/credits", headers={"Authorization": f"Bearer {key}"})
    await stack.http.get("/v1/credits", headers={"Authorization": "Bearer wrong"})
    await stack.billing.Charge(
        billing_pb.ChargeRequest(account_id=account_id, idempotency_key="m1", amount=11)
    )

    http = _points(metric_reader, "http.server.request.duration")
    assert {(p.attributes["http.route"], p.attributes["http.response.status_code"]) for p in http} >= {
        ("/v1/credits", 200),
        ("/v1/credits", 401),
    }
    rpc = _points(metric_reader, "rpc.server.duration")
    authenticate = {
        p.attributes["rpc.grpc.status_code"]: p.count
        for p in rpc
        if "/Authenticate" in p.attributes["rpc.method"]
    }
    assert authenticate.get("OK", 0) >= 1 and authenticate.get("UNAUTHENTICATED", 0) >= 1
    errors = _points(metric_reader, "leadmesh.rpc.errors")
    assert any(p.attributes["error.reason"] == "API_KEY_INVALID" for p in errors)
    charged = _points(metric_reader, "leadmesh.credits.charged")
    assert sum(p.value for p in charged if p.attributes["kind"] == "charge") >= 11
