"""Greylisted addresses of a job, checked once more before it completes.

A greylisting mail server defers the first RCPT of a new (client, sender, recipient) for a while;
within one chunk there is no time to come back, so the row is written ``unknown`` with the
verifier's retry time. When the job's last chunk is done, its greylisted rows are verified again
once (the same verifier, sender and HELO name, so the server recognizes the triplets), provided
the latest retry time is at most ``batch_greylist_recheck_wait`` seconds away: a job is not held
longer than that for them. A row settled by the re-check gets its email status; the others stay
``unknown``. Rows and credits do not change otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as enrichment_pb
from leadmesh.verifier.v1 import verifier_service_pb2 as verifier_pb
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as verifier_grpc
from libs.mongo import Document
from libs.vocabulary import EMAIL_STATUS_NAMES
from services.batch.repository import JobRepository

__all__ = ["GreylistRecheck", "recheck_field"]

log = logging.getLogger(__name__)


def recheck_field(record: enrichment_pb.EnrichmentRecord) -> Document | None:
    """What a row's result keeps for the re-check: its address and when to ask again (POSIX
    seconds), when its verdict is unknown because the mail server greylisted the probe."""
    verdict = record.lead.email_verdict
    if verdict.status != common.EMAIL_STATUS_UNKNOWN or not verdict.HasField("retry_after"):
        return None
    if "greylist" not in verdict.reason:
        return None
    return {"email": verdict.email, "after": time.time() + verdict.retry_after.ToTimedelta().total_seconds()}


class GreylistRecheck:
    def __init__(
        self,
        repository: JobRepository,
        verifier: verifier_grpc.VerifierServiceStub,
        longest_wait: float,
        timeout: float,
    ):
        self.repository = repository
        self.verifier = verifier
        self.longest_wait = longest_wait
        self.timeout = timeout

    async def run(self, job_id: str) -> None:
        """Verifies the job's greylisted rows again, once, if their retry time is near enough."""
        rows = await self.repository.results_to_recheck(job_id)
        if not rows:
            return
        wait = max(float(row["recheck"]["after"]) for row in rows) - time.time()
        if wait > self.longest_wait:
            log.info("greylisted rows left unknown", extra={"job_id": job_id, "rows": len(rows)})
            await self.repository.rechecked({row["_id"]: (row, None) for row in rows})
            return
        await asyncio.sleep(max(0.0, wait))
        items = [
            verifier_pb.VerifyBatchItem(index=n, email=str(row["recheck"]["email"]))
            for n, row in enumerate(rows)
        ]
        settled: dict[str, tuple[Document, str | None]] = {row["_id"]: (row, None) for row in rows}
        try:
            async for result in self.verifier.VerifyBatch(
                verifier_pb.VerifyBatchRequest(items=items), timeout=self.timeout
            ):
                if result.verdict.status != common.EMAIL_STATUS_UNKNOWN:
                    name = EMAIL_STATUS_NAMES.get(result.verdict.status, "unknown")
                    row = rows[result.index]
                    settled[row["_id"]] = (row, name)
        except grpc.aio.AioRpcError as exc:  # what was settled before stands
            log.warning("greylist re-check cut short", extra={"job_id": job_id, "grpc_code": exc.code().name})
        await self.repository.rechecked(settled)
        done = sum(1 for _, status in settled.values() if status)
        log.info("greylisted rows re-checked", extra={"job_id": job_id, "rows": len(rows), "settled": done})
