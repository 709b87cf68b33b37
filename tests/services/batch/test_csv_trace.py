"""A CSV job is one trace: the upload's gateway span, the batch CreateJob call, the chunk events it
publishes, and the worker that consumes them and calls enrichment, all share one trace id."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from services.batch.intake import CHUNK_ROUTING_KEY
from tests.services.batch.test_csv_jobs import batch_settings, upload, wait_finished
from tests.services.enrichment.mesh import Mesh, running_mesh
from tests.waiting import eventually

LEADS = (
    "email,full_name,company\r\n"
    "mike.chen@techflow.io,Mike Chen,TechFlow\r\n"
    "ana@techflow.io,Ana,TechFlow\r\n"
    "lena@techflow.io,Lena,TechFlow\r\n"
)


@pytest_asyncio.fixture
async def mesh(
    db: AsyncDatabase[Document], amqp_url: str, spans: InMemorySpanExporter
) -> AsyncIterator[Mesh]:
    async with running_mesh(db, amqp_url, batch=batch_settings(), csv_sync_max_rows=0) as running:
        yield running


async def test_worker_spans_of_a_csv_job_join_the_uploads_trace(
    mesh: Mesh, spans: InMemorySpanExporter
) -> None:
    _, key = await mesh.new_account(credits=10)
    spans.clear()
    response = await upload(mesh, key, LEADS)
    assert response.status_code == 202, response.text
    job = await wait_finished(mesh, key, response.json()["job_id"], timeout=10)
    assert job["status"] == "succeeded" and job["counts"]["enriched"] == 3, job
    # The worker's spans end once each chunk is acked, just after the job is done: 3 rows, 2 chunks.
    await eventually(
        lambda: len([s for s in spans.get_finished_spans() if s.name == "process batch.chunks"]) >= 2
    )

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}

    def named(kind: SpanKind, name: str, scope: str | None = None) -> list[ReadableSpan]:
        found = [
            s
            for s in finished
            if s.kind == kind
            and s.name == name
            and scope in (None, s.instrumentation_scope and s.instrumentation_scope.name)
        ]
        assert found, f"no {kind.name} span {name!r} in {sorted({s.name for s in finished})}"
        return found

    def ancestors(span: ReadableSpan) -> list[ReadableSpan]:
        chain = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            chain.append(span)
        return chain

    # FastAPI's own request span is another trace root; the gateway's middleware span is ours.
    (gateway,) = named(SpanKind.SERVER, "POST /v1/enrich/csv")  # one server span per request
    trace_id = gateway.context.trace_id
    (create_job,) = named(SpanKind.SERVER, "leadmesh.batch.v1.BatchService/CreateJob")
    producers = named(SpanKind.PRODUCER, f"publish {CHUNK_ROUTING_KEY}")
    consumers = named(SpanKind.CONSUMER, "process batch.chunks")
    enrich_calls = named(SpanKind.SERVER, "leadmesh.enrichment.v1.EnrichmentService/EnrichBatch")
    assert len(producers) == 2 and len(consumers) >= 2 and len(enrich_calls) >= 2  # 3 rows, 2 per chunk

    assert create_job.context.trace_id == trace_id, "CreateJob did not get the upload's trace context"
    assert gateway in ancestors(create_job)
    for producer in producers:
        assert create_job in ancestors(producer)
    for consumer in consumers:
        assert consumer.context.trace_id == trace_id, "the worker started a trace of its own"
        chain = ancestors(consumer)
        assert any(p in chain for p in producers) and gateway in chain
    for enrich in enrich_calls:
        assert enrich.context.trace_id == trace_id
        assert any(c in ancestors(enrich) for c in consumers)
