"""EnrichmentService over gRPC: validation, then the pipeline."""

from __future__ import annotations

from typing import Any

from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from leadmesh.enrichment.v1 import enrichment_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument, NotFound
from libs.protos import require_account
from services.enrichment.domain import validate_lead, validate_options
from services.enrichment.pipeline import Pipeline

__all__ = ["EnrichmentServicer"]

Context = Any
MAX_REQUEST_ID = 255


class EnrichmentServicer(pb_grpc.EnrichmentServiceServicer):
    def __init__(self, pipeline: Pipeline, max_batch: int):
        self.pipeline = pipeline
        self.max_batch = max_batch

    async def EnrichLead(self, request: pb.EnrichLeadRequest, context: Context) -> pb.EnrichLeadResponse:
        require_account(request.account_id)
        if not request.request_id or len(request.request_id) > MAX_REQUEST_ID:
            raise InvalidArgument(
                f"request_id is required, at most {MAX_REQUEST_ID} characters",
                reason="INVALID_REQUEST_ID",
                metadata={"field": "request_id"},
            )
        validate_lead(request.lead)
        validate_options(request.options)
        done = await self.pipeline.enrich_lead(
            request.account_id,
            request.request_id,
            request.lead,
            request.options,
            context,
            new_request_id=request.new_request_id,
        )
        return pb.EnrichLeadResponse(
            record=done.record, credits_remaining=done.credits_remaining, replayed=done.replayed
        )

    async def EnrichBatch(self, request: pb.EnrichBatchRequest, context: Context) -> pb.EnrichBatchResponse:
        require_account(request.account_id)
        if len(request.items) > self.max_batch:
            raise InvalidArgument(
                f"at most {self.max_batch} items per call, got {len(request.items)}",
                reason="BATCH_TOO_LARGE",
                metadata={"field": "items"},
            )
        validate_options(request.options)
        for n, item in enumerate(request.items):
            validate_lead(item.lead, f"items[{n}].lead")
            if len(item.charge_key) > MAX_REQUEST_ID:
                raise InvalidArgument(
                    f"items[{n}].charge_key is longer than {MAX_REQUEST_ID}",
                    reason="INVALID_CHARGE_KEY",
                    metadata={"field": f"items[{n}].charge_key"},
                )
        results = await self.pipeline.enrich_batch(request, context)
        return pb.EnrichBatchResponse(
            results=[pb.EnrichBatchResult(index=index, record=record) for index, record in results]
        )

    async def GetEnrichment(
        self, request: pb.GetEnrichmentRequest, context: Context
    ) -> pb.GetEnrichmentResponse:
        require_account(request.account_id)
        record = (
            await self.pipeline.get(request.account_id, request.id, request.sandbox) if request.id else None
        )
        if record is None and self.pipeline.expired(request.id):
            raise NotFound(
                f"enrichment {request.id!r} is past the retention period and was deleted",
                reason="ENRICHMENT_EXPIRED",
            )
        if record is None:
            raise NotFound(f"enrichment {request.id!r} not found", reason="ENRICHMENT_NOT_FOUND")
        return pb.GetEnrichmentResponse(record=record)
