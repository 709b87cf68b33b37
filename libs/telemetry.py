"""OpenTelemetry set-up, metrics, and trace-context propagation over gRPC metadata and AMQP headers.

Spans are always started, so trace ids reach the logs and downstream calls; they are recorded only
while something exports them (:func:`export_spans`). A recorded span costs about 50 us of CPU, a
store command's span included, for nothing when no exporter reads it. Spans and metrics are
exported over OTLP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and the ``otlp`` extra is
installed; :func:`shutdown_telemetry` exports what is left when the process ends.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult

__all__ = [
    "current_trace_id",
    "export_spans",
    "extract_context",
    "inject_headers",
    "meter",
    "setup_metrics",
    "setup_telemetry",
    "setup_tracing",
    "shutdown_telemetry",
    "spans_exported",
    "tracer",
]

log = logging.getLogger(__name__)


def setup_telemetry(service: str, otlp_endpoint: str | None, traces: bool = True) -> None:
    """Tracing and metrics for a process, exported over OTLP when an endpoint is configured (spans
    only when ``traces``)."""
    setup_tracing(service, otlp_endpoint if traces else None)
    setup_metrics(service, otlp_endpoint)


def shutdown_telemetry() -> None:
    """Exports the last metrics and the spans not yet exported, then stops the exporters (at the
    end of the process: what happened between the last periodic export and the exit is not lost)."""
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.shutdown()
    tracer_provider = trace.get_tracer_provider()
    if isinstance(tracer_provider, TracerProvider):
        tracer_provider.shutdown()


def _resource(service: str) -> Resource:
    return Resource.create({"service.name": f"leadmesh-{service}"})


class _WhileExported(Sampler):
    """Records every span once a processor exports spans, none before (a span not recorded still
    has its trace id, which the logs and the downstream calls carry)."""

    def __init__(self) -> None:
        self.exporting = False

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return (ALWAYS_ON if self.exporting else ALWAYS_OFF).should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "WhileExported"


_SAMPLER = _WhileExported()


def setup_tracing(service: str, otlp_endpoint: str | None, exporter: SpanExporter | None = None) -> None:
    """Install the global tracer provider once per process."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    trace.set_tracer_provider(TracerProvider(resource=_resource(service), sampler=_SAMPLER))
    if exporter is None and otlp_endpoint:
        exporter = _otlp_exporter()
    if exporter is not None:
        export_spans(BatchSpanProcessor(exporter))


def spans_exported() -> bool:
    """Whether spans are recorded and exported (see :func:`export_spans`)."""
    return _SAMPLER.exporting


def export_spans(processor: SpanProcessor) -> None:
    """Hands every span ended from now on to ``processor`` (spans are recorded from now on)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        raise RuntimeError("setup_tracing() first")
    provider.add_span_processor(processor)
    _SAMPLER.exporting = True


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


def _otlp_metric_exporter() -> MetricExporter | None:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otlp extra is not installed; not exporting")
        return None
    return OTLPMetricExporter()


def _otlp_exporter() -> SpanExporter | None:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otlp extra is not installed; not exporting")
        return None
    return OTLPSpanExporter()


@functools.cache
def tracer(name: str) -> trace.Tracer:
    """The tracer of ``name``, made once: the SDK builds a new one (and warns) on every
    ``get_tracer``, about 45 us of CPU, once per gRPC call and HTTP request as it was used. One
    made before the provider is installed follows it once it is."""
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
