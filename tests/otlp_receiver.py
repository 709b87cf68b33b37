"""An OTLP/gRPC receiver on loopback (what an OpenTelemetry collector is to a process): it keeps
the names of the metrics each service exported, by the ``service.name`` of their resource, and
accepts spans (and drops them) so that an exporting process has somewhere to send those too."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as metrics_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as trace_grpc

__all__ = ["OtlpReceiver"]


class _Spans(trace_grpc.TraceServiceServicer):  # type: ignore[misc]
    async def Export(self, request: Any, context: Any) -> Any:
        return trace_pb.ExportTraceServiceResponse()


class _Metrics(metrics_grpc.MetricsServiceServicer):  # type: ignore[misc]
    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver

    async def Export(self, request: Any, context: Any) -> Any:
        await self.receiver.received(request)
        return metrics_pb.ExportMetricsServiceResponse()


class OtlpReceiver:
    def __init__(self) -> None:
        self.metrics: dict[str, set[str]] = defaultdict(set)
        self._changed = asyncio.Condition()
        self._server = grpc.aio.server()
        metrics_grpc.add_MetricsServiceServicer_to_server(_Metrics(self), self._server)
        trace_grpc.add_TraceServiceServicer_to_server(_Spans(), self._server)
        self.endpoint = ""

    async def start(self) -> str:
        """Serves on a free loopback port; returns the endpoint for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        return self.endpoint

    async def stop(self) -> None:
        await self._server.stop(None)

    async def received(self, request: metrics_pb.ExportMetricsServiceRequest) -> None:
        for resource_metrics in request.resource_metrics:
            attributes = {a.key: a.value.string_value for a in resource_metrics.resource.attributes}
            names = {m.name for scope in resource_metrics.scope_metrics for m in scope.metrics}
            self.metrics[attributes.get("service.name", "")] |= names
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, expected: dict[str, set[str]], timeout: float) -> None:
        """Waits until each service of ``expected`` has exported (at least) its metrics."""

        def arrived() -> bool:
            return all(names <= self.metrics[service] for service, names in expected.items())

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(arrived), timeout)
            except TimeoutError:
                missing = {
                    s: sorted(n - self.metrics[s]) for s, n in expected.items() if not n <= self.metrics[s]
                }
                raise AssertionError(f"metrics not received within {timeout}s: {missing}") from None
