"""A job after its upload (:mod:`services.batch.intake`): looked up, followed until it ends, listed
page by page, cancelled, and its result CSV once it has ended.

Use cases over the repository, without gRPC: they answer the ``Job`` callers see (live counts from
the finished chunks until the job is finalized, :mod:`services.batch.jobs`) and raise domain errors
(``JOB_NOT_FOUND``, ``JOB_FINISHED``, ``JOB_NOT_FINISHED``) that the server's interceptor maps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from leadmesh.batch.v1 import batch_service_pb2 as pb
from libs.errors import FailedPrecondition, NotFound
from libs.ids import decode_page_token, encode_page_token, page_size
from libs.mongo import Document, utc_now
from services.batch.jobs import TERMINAL, job_message, row_issues, totals
from services.batch.output import result_csv
from services.batch.repository import ACTIVE, JobRepository

__all__ = ["WATCH_INTERVAL", "JobLifecycle"]

# How often a watched job is read again, seconds.
WATCH_INTERVAL = 0.2


class JobLifecycle:
    """The jobs of the accounts, each seen only by its own account (another account's job is not
    found either)."""

    def __init__(self, repository: JobRepository, watch_interval: float = WATCH_INTERVAL):
        self.repository = repository
        self.watch_interval = watch_interval

    async def find(self, account_id: str, job_id: str, sandbox: bool = False) -> Document:
        """The stored job; ``JOB_NOT_FOUND`` when the account has none of that id in that mode
        (a test key's jobs are not a live key's, and the other way round)."""
        job = await self.repository.get_job(account_id, job_id, sandbox) if job_id else None
        if job is None:
            raise NotFound(f"job {job_id!r} not found", reason="JOB_NOT_FOUND")
        return job

    async def view(self, job: Document) -> pb.Job:
        """The job as callers see it: its final counts once finalized, else those of its
        finished chunks."""
        if job.get("finalized"):
            return job_message(job, None)
        return job_message(job, totals(await self.repository.chunks_of(job["_id"], int(job["chunks"]))))

    async def get(
        self, account_id: str, job_id: str, sandbox: bool = False
    ) -> tuple[pb.Job, list[pb.RowIssue]]:
        """The job and the first row issues found in its file."""
        job = await self.find(account_id, job_id, sandbox)
        return await self.view(job), row_issues(job)

    async def watch(self, account_id: str, job_id: str, sandbox: bool = False) -> AsyncIterator[pb.Job]:
        """The job now and again each time it changes, until it has ended for good (finalized,
        or cancelled)."""
        last: pb.Job | None = None
        while True:
            job = await self.find(account_id, job_id, sandbox)
            message = await self.view(job)
            if message != last:
                yield message
                last = message
            if job["state"] in TERMINAL and (job.get("finalized") or job["state"] == "cancelled"):
                return
            await asyncio.sleep(self.watch_interval)

    async def page(
        self, account_id: str, requested_size: int, token: str, sandbox: bool = False
    ) -> tuple[list[pb.Job], str]:
        """One page of the account's jobs, newest first, and the token of the next page ("" after
        the last)."""
        size = page_size(requested_size)
        before = decode_page_token(token) if token else None
        found = await self.repository.list_jobs(account_id, size + 1, before, sandbox)
        jobs = [await self.view(job) for job in found[:size]]
        return jobs, encode_page_token(found[size - 1]["_id"]) if len(found) > size else ""

    async def cancel(self, account_id: str, job_id: str, sandbox: bool = False) -> pb.Job:
        """Cancels a queued or running job; ``JOB_FINISHED`` when it has already ended."""
        job = await self.find(account_id, job_id, sandbox)
        cancelled = await self.repository.update_job(
            job["_id"], {"state": "cancelled", "end_time": utc_now()}, states=ACTIVE
        )
        if cancelled is None:
            current = await self.find(account_id, job_id, sandbox)
            raise FailedPrecondition(
                f"job {job['_id']} has already {current['state']}", reason="JOB_FINISHED"
            )
        return await self.view(cancelled)

    async def result(self, account_id: str, job_id: str, sandbox: bool = False) -> AsyncIterator[bytes]:
        """The result CSV in pieces (:mod:`services.batch.output`); ``JOB_NOT_FINISHED`` while
        the job is queued or running."""
        job = await self.find(account_id, job_id, sandbox)
        if job.get("purged"):
            raise NotFound(
                f"the result of job {job['_id']} is past the retention period and was deleted",
                reason="JOB_EXPIRED",
            )
        if job["state"] not in TERMINAL:
            progress = (await self.view(job)).progress
            raise FailedPrecondition(
                f"job {job['_id']} is {job['state']} ({progress:.0%} done); its result is ready when it ends",
                reason="JOB_NOT_FINISHED",
            )
        async for piece in result_csv(self.repository, job):
            yield piece
