"""How long leads waited on each stage: an OTLP/gRPC metrics receiver on loopback that keeps the
latest cumulative ``rpc.server.duration`` (sum and count) of every process's served methods.

The services export their metrics to it every second (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_METRIC_EXPORT_INTERVAL``); spans are not exported (``OTEL_TRACES_EXPORTER=none``), so the
services spend no CPU recording them. :meth:`StageClock.since` gives the calls and seconds of
each stage between two readings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as metrics_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as trace_grpc

__all__ = ["STAGES", "StageClock", "Waited", "stage_lines"]

# The calls whose duration is how long enrichment's callers waited on that stage.
STAGES = {
    "leadmesh-providers": "providers (lookup)",
    "leadmesh-verifier": "verifier (email)",
    "leadmesh-intent": "intent (signals)",
    "leadmesh-scoring": "scoring (ICP)",
    "leadmesh-billing": "billing (charge)",
    "leadmesh-enrichment": "enrichment (whole pipeline)",
}
SKIPPED = ("grpc.health", "Authenticate", "GetBalance", "Reserve", "Release")


@dataclass
class Waited:
    calls: int
    seconds: float


class _Spans(trace_grpc.TraceServiceServicer):  # type: ignore[misc]
    async def Export(self, request: Any, context: Any) -> Any:
        return trace_pb.ExportTraceServiceResponse()


class StageClock(metrics_grpc.MetricsServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        # (service, method) -> (count, sum ms), cumulative since each process started
        self.totals: dict[tuple[str, str], tuple[int, float]] = {}
        self._server = grpc.aio.server()
        metrics_grpc.add_MetricsServiceServicer_to_server(self, self._server)
        trace_grpc.add_TraceServiceServicer_to_server(_Spans(), self._server)
        self.endpoint = ""

    @property
    def env(self) -> dict[str, str]:
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_TRACES_EXPORTER": "none",
        }

    async def start(self) -> StageClock:
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        await self._server.stop(None)

    async def Export(self, request: Any, context: Any) -> Any:
        for resource in request.resource_metrics:
            service = next(
                (a.value.string_value for a in resource.resource.attributes if a.key == "service.name"), ""
            )
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != "rpc.server.duration":
                        continue
                    by_method: dict[str, tuple[int, float]] = {}
                    for point in metric.histogram.data_points:
                        name = next(
                            (a.value.string_value for a in point.attributes if a.key == "rpc.method"), ""
                        )
                        count, total = by_method.get(name, (0, 0.0))
                        by_method[name] = (count + point.count, total + point.sum)
                    for name, value in by_method.items():
                        self.totals[(service, name)] = value
        return metrics_pb.ExportMetricsServiceResponse()

    async def settle(self) -> dict[tuple[str, str], tuple[int, float]]:
        """The totals once every process has exported what happened until now."""
        await asyncio.sleep(2.5)
        return dict(self.totals)

    @staticmethod
    def since(
        before: dict[tuple[str, str], tuple[int, float]], after: dict[tuple[str, str], tuple[int, float]]
    ) -> dict[str, Waited]:
        """Calls and seconds per stage method between two readings, the longest first."""
        found: dict[str, Waited] = {}
        for (service, name), (count, total) in after.items():
            if service not in STAGES or any(skip in name for skip in SKIPPED):
                continue
            was_count, was_total = before.get((service, name), (0, 0.0))
            if count > was_count:
                label = f"{STAGES[service]} {name.rpartition('/')[2]}"
                found[label] = Waited(count - was_count, (total - was_total) / 1000)
        return dict(sorted(found.items(), key=lambda item: -item[1].seconds))


def stage_lines(waited: dict[str, Waited]) -> list[str]:
    """One line per stage: its calls, the seconds callers waited on it in all and per call."""
    return [
        f"         waited on {label}: {w.calls} calls, {w.seconds:.1f} s in all, "
        f"{w.seconds / w.calls * 1000:.0f} ms per call"
        for label, w in waited.items()
    ]
