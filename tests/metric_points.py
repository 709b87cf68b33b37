"""Reading what the in-memory metric reader (the ``metric_reader`` fixture) collected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

__all__ = ["points", "points_where"]


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """Every data point of metric ``name`` collected now (observable gauges are observed now)."""
    data = reader.get_metrics_data()
    if data is None:
        return []
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def points_where(reader: InMemoryMetricReader, name: str, attributes: Mapping[str, Any]) -> list[Any]:
    """The data points of ``name`` whose attributes include ``attributes``."""
    return [
        point
        for point in points(reader, name)
        if all(point.attributes.get(key) == value for key, value in attributes.items())
    ]
