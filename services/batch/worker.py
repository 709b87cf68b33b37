"""The chunk consumer: enrich a chunk's rows with one EnrichBatch call, write each row's result
once, charge each matched row once, then ack; and finish the job when its last chunk is done.

Every step is idempotent, so a chunk redelivered after a crash at any point is safe: rows that
already have a result are not enriched again (the stored result stands; enrichment also replays
its record for the row's charge key), and their charges are re-sent with the same idempotency key
``job:<id>:row:<n>``, which billing applies at most once. A chunk that keeps failing reaches the
dead-letter queue; :meth:`ChunkWorker.handle_dead` fails its remaining rows with the last error
and counts the chunk done, so the job still completes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

import grpc
from aio_pika.abc import AbstractIncomingMessage

from leadmesh.batch.v1 import batch_events_pb2 as events_pb
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as enrichment_pb
from leadmesh.enrichment.v1 import enrichment_service_pb2_grpc as enrichment_grpc
from libs.amqp import QueueSpec
from libs.errors import error_from_rpc
from libs.mongo import Document, utc_now
from services.batch.jobs import TERMINAL, totals
from services.batch.recheck import GreylistRecheck, recheck_field
from services.batch.repository import JobRepository
from services.batch.results import (
    ENRICHED,
    FAILED,
    INVALID_INPUT,
    NOT_FOUND,
    STATUSES,
    empty_cells,
    enriched_cells,
)
from services.batch.settings import BatchSettings

__all__ = ["ChunkWorker", "chunk_queue"]

log = logging.getLogger(__name__)

JobFinished = Callable[[Document], Awaitable[None]]


def chunk_queue(settings: BatchSettings) -> QueueSpec:
    return QueueSpec("batch.chunks", ("batch.chunk.ready",), max_attempts=settings.batch_max_attempts)


def charge_key(job_id: str, row: int) -> str:
    return f"job:{job_id}:row:{row}"


def _row_number(document: Document) -> int:
    return int(str(document["_id"]).rpartition(":")[2])


def _result(key: str, status: str, cells: list[str], credits: int = 0, reason: str = "") -> Document:
    return {
        "_id": key,
        "status": status,
        "cells": cells,
        "credits": credits,
        "reason": reason,
        "time": utc_now(),
    }


class ChunkWorker:
    def __init__(
        self,
        repository: JobRepository,
        enrichment: enrichment_grpc.EnrichmentServiceStub,
        billing: billing_grpc.BillingServiceStub,
        settings: BatchSettings,
        on_finished: JobFinished,
        recheck: GreylistRecheck | None = None,
    ):
        self.recheck = recheck
        self.repository = repository
        self.enrichment = enrichment
        self.billing = billing
        self.settings = settings
        self.on_finished = on_finished

    async def handle(self, message: events_pb.ChunkReady, incoming: AbstractIncomingMessage) -> None:
        try:
            await self._process(message)
        except Exception as error:
            await self.repository.record_chunk_error(message.job_id, message.chunk_index, _describe(error))
            raise

    async def _process(self, message: events_pb.ChunkReady) -> None:
        job = await self.repository.job(message.job_id)
        if job is None:
            log.warning("chunk of an unknown job dropped", extra={"job_id": message.job_id})
            return
        if not await self.repository.is_chunk_done(job["_id"], message.chunk_index):
            if job["state"] in TERMINAL:  # cancelled: what is left is not enriched
                await self._fail_rest(job, message, "the job was cancelled")
            else:
                await self.repository.mark_running(job["_id"])
                await self._enrich(job, message)
        await self.finish_if_done(job["_id"])

    async def _enrich(self, job: Document, message: events_pb.ChunkReady) -> None:
        job_id = job["_id"]
        rows = await self.repository.rows_of(job_id, message.first_row, message.row_count)
        existing = await self.repository.results_of(job_id, message.first_row, message.row_count)
        fresh: list[Document] = []
        items: list[enrichment_pb.EnrichBatchItem] = []
        keys: dict[int, str] = {}
        for row in rows:
            key = row["_id"]
            if key in existing:
                continue
            if "problem" in row:
                fresh.append(_result(key, INVALID_INPUT, empty_cells(), reason=row["problem"]))
                continue
            number = _row_number(row)
            keys[number] = key
            items.append(
                enrichment_pb.EnrichBatchItem(
                    index=number,
                    lead=common.LeadInput.FromString(bytes(row["lead"])),
                    charge_key=charge_key(job_id, number),
                )
            )
        if items:
            answer = await self.enrichment.EnrichBatch(
                enrichment_pb.EnrichBatchRequest(
                    account_id=job["account_id"],
                    items=items,
                    options=enrichment_pb.EnrichOptions(
                        fields=job["fields"], skip_icp=job["skip_icp"], sandbox=bool(job.get("sandbox"))
                    ),
                    reservation_id=job.get("reservation_id", ""),
                    skip_charge=True,
                    skip_store=True,  # the rows' results are the job's records
                ),
                timeout=self.settings.batch_enrich_timeout,
            )
            for result in answer.results:
                record = result.record
                if record.state == enrichment_pb.EnrichmentRecord.STATE_COMPLETED:
                    cells, status, credits = enriched_cells(record), ENRICHED, int(record.meta.credits_used)
                else:
                    cells, status, credits = empty_cells(), NOT_FOUND, 0
                reason = record.meta.not_found_reason
                fresh.append(_result(keys[result.index], status, cells, credits, reason))
                if status == ENRICHED and self.recheck is not None and (again := recheck_field(record)):
                    fresh[-1]["recheck"] = again
        if await self.repository.insert_results(fresh):
            results = {**existing, **{document["_id"]: document for document in fresh}}
        else:  # another delivery of this chunk wrote some rows first: its results are the ones kept
            results = await self.repository.results_of(job_id, message.first_row, message.row_count)
        await self._charge(job, results.values())
        await self._chunk_done(job_id, message.chunk_index, results.values())

    async def _charge(self, job: Document, results: Iterable[Document]) -> None:
        """Each matched row once, with its own key, in one call drawing on the job's reservation
        (a redelivered chunk replays the rows charged before)."""
        job_id = job["_id"]
        items = [
            billing_pb.ChargeBatchItem(
                idempotency_key=charge_key(job_id, _row_number(document)),
                amount=document["credits"],
                description=f"CSV job {job_id} row {_row_number(document)}",
            )
            for document in sorted(results, key=lambda document: str(document["_id"]))
            if document["credits"] > 0
        ]
        if items:
            await self.billing.ChargeBatch(
                billing_pb.ChargeBatchRequest(
                    account_id=job["account_id"], reservation_id=job["reservation_id"], items=items
                ),
                timeout=self.settings.batch_billing_timeout,
            )

    async def _chunk_done(self, job_id: str, chunk: int, results: Iterable[Document]) -> None:
        counts = dict.fromkeys(STATUSES, 0)
        credits = 0
        for document in results:
            counts[document["status"]] += 1
            credits += int(document["credits"])
        await self.repository.chunk_done(job_id, chunk, counts, credits)

    async def _fail_rest(self, job: Document, message: events_pb.ChunkReady, reason: str) -> None:
        """Rows of the chunk without a result fail with ``reason``; the chunk is counted done."""
        job_id = job["_id"]
        rows = await self.repository.rows_of(job_id, message.first_row, message.row_count)
        existing = await self.repository.results_of(job_id, message.first_row, message.row_count)
        fresh = [
            _result(row["_id"], FAILED, empty_cells(), reason=reason)
            for row in rows
            if row["_id"] not in existing
        ]
        if not await self.repository.insert_results(fresh):
            existing = await self.repository.results_of(job_id, message.first_row, message.row_count)
            fresh = []
        # Rows enriched by an earlier attempt whose charge failed are charged now (their keys make
        # this a replay for the ones that were charged): a delivered result is never free.
        await self._charge(job, existing.values())
        await self._chunk_done(job_id, message.chunk_index, [*existing.values(), *fresh])

    async def handle_dead(self, incoming: AbstractIncomingMessage) -> None:
        """A chunk that exhausted its attempts: its rows without a result fail, the job goes on."""
        try:
            message = events_pb.ChunkReady.FromString(incoming.body)
            job = await self.repository.job(message.job_id)
            if job is not None and not await self.repository.is_chunk_done(job["_id"], message.chunk_index):
                why = await self.repository.chunk_error(job["_id"], message.chunk_index)
                reason = (
                    f"processing failed {self.settings.batch_max_attempts} times: {why or 'unknown error'}"
                )
                log.error("chunk dead-lettered", extra={"job_id": job["_id"], "chunk": message.chunk_index})
                await self._fail_rest(job, message, reason)
            if job is not None:  # also when only the job's ending (or its notice) failed
                await self.finish_if_done(job["_id"])
        except Exception:
            log.exception("could not settle a dead-lettered chunk; requeueing")
            await asyncio.sleep(1.0)
            await incoming.nack(requeue=True)
            return
        await incoming.ack()

    async def finish_if_done(self, job_id: str) -> None:
        """When every chunk is done: settle the hold, mark the job finished once, tell the world
        (again, until that succeeds: ``notified`` is set only after the notice went out)."""
        job = await self.repository.job(job_id)
        if job is None:
            return
        if job.get("finalized"):
            if not job.get("notified", True):  # (the embedded store gives booleans back as 0 and 1)
                await self._notify(job)
            return
        chunks = await self.repository.chunks_of(job_id, int(job["chunks"]))
        if len(chunks) < job["chunks"]:
            return
        if self.recheck is not None and job["state"] != "cancelled":
            await self.recheck.run(job_id)
        found = totals(chunks)
        if job.get("reservation_id"):
            await self.billing.SettleReservation(
                billing_pb.SettleReservationRequest(
                    account_id=job["account_id"], reservation_id=job["reservation_id"]
                ),
                timeout=self.settings.batch_billing_timeout,
            )
        if job["state"] == "cancelled":
            state = "cancelled"
        elif found.counts[FAILED] == job["total_rows"]:
            state = "failed"
        else:
            state = "succeeded"
        fields: Document = {
            "state": state,
            "counts": found.counts,
            "credits_used": found.credits,
            "notified": False,
        }
        if state != "cancelled":
            fields["end_time"] = utc_now()
        if state == "failed":
            fields.update(error="every row failed to process", error_reason="ALL_ROWS_FAILED")
        if await self.repository.finalize(job_id, fields):
            log.info("job finished", extra={"job_id": job_id, "state": state, **found.counts})
            await self._notify({**job, **fields, "finalized": True})

    async def _notify(self, job: Document) -> None:
        await self.on_finished(job)
        await self.repository.update_job(job["_id"], {"notified": True})


def _describe(error: Exception) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        known = error_from_rpc(error)
        return f"{error.code().name}: {known.message}"
    return f"{type(error).__name__}: {error}"
