"""BatchService over gRPC: translate, then the intake, the repository and the result stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from leadmesh.batch.v1 import batch_service_pb2 as pb
from leadmesh.batch.v1 import batch_service_pb2_grpc as pb_grpc
from libs.errors import FailedPrecondition, InvalidArgument, NotFound
from libs.ids import decode_page_token, encode_page_token, page_size
from libs.mongo import Document, utc_now
from libs.protos import require_account
from services.batch.intake import Intake
from services.batch.jobs import TERMINAL, job_message, totals
from services.batch.output import result_csv
from services.batch.repository import ACTIVE, JobRepository
from services.batch.webhooks import account_webhook_secret

__all__ = ["BatchServicer"]

Context = Any
WATCH_INTERVAL = 0.2
RESULT_PIECE = 256 * 1024


class BatchServicer(pb_grpc.BatchServiceServicer):
    def __init__(self, intake: Intake, repository: JobRepository, master_secret: str):
        self.master_secret = master_secret
        self.intake = intake
        self.repository = repository

    async def CreateJob(
        self, request_iterator: AsyncIterator[pb.CreateJobRequest], context: Context
    ) -> pb.CreateJobResponse:
        first = await anext(request_iterator, None)
        if first is None or first.WhichOneof("part") != "options":
            raise InvalidArgument(
                "the first message of CreateJob carries the options",
                reason="OPTIONS_FIRST",
                metadata={"field": "options"},
            )

        async def body() -> AsyncIterator[bytes]:
            async for part in request_iterator:
                if part.WhichOneof("part") != "chunk":
                    raise InvalidArgument("only the first message carries options", reason="OPTIONS_FIRST")
                yield part.chunk

        job, issues = await self.intake.create(first.options, body())
        return pb.CreateJobResponse(job=await self._message(job), row_issues=issues)

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.GetJobResponse:
        job = await self._job(request.account_id, request.job_id)
        issues = [pb.RowIssue.FromString(bytes(issue)) for issue in job.get("row_issues", [])]
        return pb.GetJobResponse(job=await self._message(job), row_issues=issues)

    async def GetWebhookSecret(
        self, request: pb.GetWebhookSecretRequest, context: Context
    ) -> pb.GetWebhookSecretResponse:
        require_account(request.account_id)
        return pb.GetWebhookSecretResponse(
            secret=account_webhook_secret(self.master_secret, request.account_id)
        )

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Context
    ) -> AsyncIterator[pb.WatchJobResponse]:
        last: pb.Job | None = None
        while True:
            job = await self._job(request.account_id, request.job_id)
            message = await self._message(job)
            if message != last:
                yield pb.WatchJobResponse(job=message)
                last = message
            if job["state"] in TERMINAL and (job.get("finalized") or job["state"] == "cancelled"):
                return
            await asyncio.sleep(WATCH_INTERVAL)

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        require_account(request.account_id)
        size = page_size(request.page_size)
        before = decode_page_token(request.page_token) if request.page_token else None
        found = await self.repository.list_jobs(request.account_id, size + 1, before)
        jobs = [await self._message(job) for job in found[:size]]
        token = encode_page_token(found[size - 1]["_id"]) if len(found) > size else ""
        return pb.ListJobsResponse(jobs=jobs, next_page_token=token)

    async def CancelJob(self, request: pb.CancelJobRequest, context: Context) -> pb.CancelJobResponse:
        job = await self._job(request.account_id, request.job_id)
        cancelled = await self.repository.update_job(
            job["_id"], {"state": "cancelled", "end_time": utc_now()}, states=ACTIVE
        )
        if cancelled is None:
            current = await self._job(request.account_id, request.job_id)
            raise FailedPrecondition(
                f"job {job['_id']} has already {current['state']}", reason="JOB_FINISHED"
            )
        return pb.CancelJobResponse(job=await self._message(cancelled))

    async def GetJobResult(
        self, request: pb.GetJobResultRequest, context: Context
    ) -> AsyncIterator[pb.GetJobResultResponse]:
        job = await self._job(request.account_id, request.job_id)
        if job["state"] not in TERMINAL:
            progress = (await self._message(job)).progress
            raise FailedPrecondition(
                f"job {job['_id']} is {job['state']} ({progress:.0%} done); its result is ready when it ends",
                reason="JOB_NOT_FINISHED",
            )
        async for piece in result_csv(self.repository, job):
            for start in range(0, len(piece), RESULT_PIECE):
                yield pb.GetJobResultResponse(chunk=piece[start : start + RESULT_PIECE])

    async def _job(self, account_id: str, job_id: str) -> Document:
        require_account(account_id)
        job = await self.repository.get_job(account_id, job_id) if job_id else None
        if job is None:  # another account's job is not found either
            raise NotFound(f"job {job_id!r} not found", reason="JOB_NOT_FOUND")
        return job

    async def _message(self, job: Document) -> pb.Job:
        if job.get("finalized"):
            return job_message(job, None)
        return job_message(job, totals(await self.repository.chunks_of(job["_id"], int(job["chunks"]))))
