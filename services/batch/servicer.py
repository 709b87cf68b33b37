"""BatchService over gRPC: proto in, a call to the intake (uploads) or the job lifecycle
(:mod:`services.batch.lifecycle`), proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from leadmesh.batch.v1 import batch_service_pb2 as pb
from leadmesh.batch.v1 import batch_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument
from libs.protos import require_account
from services.batch.intake import Intake
from services.batch.lifecycle import JobLifecycle
from services.batch.signing import WebhookSecrets

__all__ = ["BatchServicer"]

Context = Any
# The most bytes of the result CSV one GetJobResultResponse carries.
RESULT_PIECE = 256 * 1024


class BatchServicer(pb_grpc.BatchServiceServicer):
    def __init__(self, intake: Intake, jobs: JobLifecycle, secrets: WebhookSecrets):
        self.secrets = secrets
        self.intake = intake
        self.jobs = jobs

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
        return pb.CreateJobResponse(job=await self.jobs.view(job), row_issues=issues)

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.GetJobResponse:
        require_account(request.account_id)
        job, issues = await self.jobs.get(request.account_id, request.job_id, request.sandbox)
        return pb.GetJobResponse(job=job, row_issues=issues)

    async def GetWebhookSecret(
        self, request: pb.GetWebhookSecretRequest, context: Context
    ) -> pb.GetWebhookSecretResponse:
        return pb.GetWebhookSecretResponse(secret=await self.secrets.current(request.account_id))

    async def RotateWebhookSecret(
        self, request: pb.RotateWebhookSecretRequest, context: Context
    ) -> pb.RotateWebhookSecretResponse:
        secret, previous_until = await self.secrets.rotate(request.account_id)
        answer = pb.RotateWebhookSecretResponse(secret=secret)
        answer.previous_secret_expire_time.FromDatetime(previous_until)
        return answer

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Context
    ) -> AsyncIterator[pb.WatchJobResponse]:
        require_account(request.account_id)
        async for job in self.jobs.watch(request.account_id, request.job_id, request.sandbox):
            yield pb.WatchJobResponse(job=job)

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        require_account(request.account_id)
        jobs, token = await self.jobs.page(
            request.account_id, request.page_size, request.page_token, request.sandbox
        )
        return pb.ListJobsResponse(jobs=jobs, next_page_token=token)

    async def CancelJob(self, request: pb.CancelJobRequest, context: Context) -> pb.CancelJobResponse:
        require_account(request.account_id)
        return pb.CancelJobResponse(
            job=await self.jobs.cancel(request.account_id, request.job_id, request.sandbox)
        )

    async def GetJobResult(
        self, request: pb.GetJobResultRequest, context: Context
    ) -> AsyncIterator[pb.GetJobResultResponse]:
        require_account(request.account_id)
        async for piece in self.jobs.result(request.account_id, request.job_id, request.sandbox):
            for start in range(0, len(piece), RESULT_PIECE):
                yield pb.GetJobResultResponse(chunk=piece[start : start + RESULT_PIECE])
