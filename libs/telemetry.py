"""OpenTelemetry set-up, metrics, and trace-context propagation over gRPC metadata and AMQP headers.

Spans are always created (so trace ids reach the logs); spans and metrics are exported over OTLP
only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and the ``otlp`` extra is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

__all__ = [
    "current_trace_id",
    "extract_context",
    "inject_headers",
    "meter",
    "setup_metrics",
    "setup_telemetry",
    "setup_tracing",
    "tracer",
]

log = logging.getLogger(__name__)


def setup_telemetry(service: str, otlp_endpoint: str | None) -> None:
    """Tracing and metrics for a process, exported over OTLP when an endpoint is configured."""
    setup_tracing(service, otlp_endpoint)
    setup_metrics(service, otlp_endpoint)


def _resource(service: str) -> Resource:
    return Resource.create({"service.name": f"leadmesh-{service}"})


def setup_tracing(service: str, otlp_endpoint: str | None, exporter: SpanExporter | None = None) -> None:
    """Install the global tracer provider once per process."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=_resource(service))
    if exporter is None and otlp_endpoint:
        exporter = _otlp_exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def setup_metrics(service: str, otlp_endpoint: str | None, reader: MetricReader | None = None) -> None:
    """Install the global meter provider once per process (instruments made before still work)."""
    if isinstance(metrics.get_meter_provider(), MeterProvider):
        return
    readers: list[MetricReader] = []
    if reader is not None:
        readers.append(reader)
    elif otlp_endpoint:
        exporter = _otlp_metric_exporter()
        if exporter is not None:
            readers.append(PeriodicExportingMetricReader(exporter))
    metrics.set_meter_provider(MeterProvider(resource=_resource(service), metric_readers=readers))


def meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)


def _otlp_metric_exporter() -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # type: ignore[import-not-found]
            OTLPMetricExporter,
        )
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otlp extra is not installed; not exporting")
        return None
    return OTLPMetricExporter()


def _otlp_exporter() -> SpanExporter | None:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otlp extra is not installed; not exporting")
        return None
    exporter: SpanExporter = OTLPSpanExporter()
    return exporter


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_id() -> str:
    """The current trace id as 32 hex digits, or "" outside a span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def inject_headers(carrier: MutableMapping[str, Any] | None = None) -> MutableMapping[str, Any]:
    """The current trace context as W3C headers (for gRPC metadata or AMQP headers)."""
    carrier = {} if carrier is None else carrier
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> Any:
    """An OpenTelemetry context from gRPC metadata pairs or AMQP headers."""
    if headers is None:
        return propagate.extract({})
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    carrier = {str(k).lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in pairs}
    return propagate.extract(carrier)
