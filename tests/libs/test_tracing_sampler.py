"""libs.telemetry: spans are recorded only while exported, and carry their trace ids either way."""

from __future__ import annotations

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs.mongo import connect
from libs.telemetry import _SAMPLER, _WhileExported, setup_tracing


def test_spans_nobody_exports_are_not_recorded_but_keep_and_pass_on_their_trace() -> None:
    sampler = _WhileExported()
    provider = TracerProvider(sampler=sampler)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")

    with tracer.start_as_current_span("request") as parent:
        assert not parent.is_recording()
        trace_id = parent.get_span_context().trace_id
        assert trace_id != 0
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    child = tracer.start_span("downstream", context=propagate.extract(carrier))
    assert child.get_span_context().trace_id == trace_id
    child.end()
    assert exporter.get_finished_spans() == ()

    sampler.exporting = True
    with tracer.start_as_current_span("request") as parent:
        assert parent.is_recording()
        assert trace.get_current_span().get_span_context().trace_id == parent.get_span_context().trace_id
    assert [span.name for span in exporter.get_finished_spans()] == ["request"]


def test_setup_tracing_installs_the_sampler() -> None:
    setup_tracing("tests", None)  # a no-op when the process has its provider already
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    assert provider.sampler is _SAMPLER


async def test_store_commands_get_spans_only_while_spans_are_exported(
    mongo_uri: str, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(mongo_uri, app_name="tests")
    try:
        spans.clear()
        monkeypatch.setattr(_SAMPLER, "exporting", False)
        await client["tracing"]["things"].find_one({})
        monkeypatch.setattr(_SAMPLER, "exporting", True)
        await client["tracing"]["things"].find_one({"_id": "x"})
    finally:
        await client.close()
    store_spans = [s for s in spans.get_finished_spans() if s.name == "find tracing.things"]
    assert len(store_spans) == 1
