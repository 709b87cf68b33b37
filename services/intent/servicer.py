"""IntentService over gRPC: proto in, domain call, proto out."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from leadmesh.common.v1 import common_pb2
from leadmesh.intent.v1 import intent_service_pb2 as pb
from leadmesh.intent.v1 import intent_service_pb2_grpc as pb_grpc
from libs.channels import downstream_timeout
from libs.protos import timestamp
from services.intent.domain import Category, CurrentSignal, Source, WebEventInput
from services.intent.intent_signals import CompanyView, EventsAnswer, IntentSignals
from services.intent.sandbox import SandboxSignals

__all__ = ["CATEGORY_TO_PROTO", "SOURCE_TO_PROTO", "IntentServicer"]

Context = Any

CATEGORY_TO_PROTO = {
    Category.HIRING: common_pb2.INTENT_CATEGORY_HIRING,
    Category.TECHNOLOGY: common_pb2.INTENT_CATEGORY_TECHNOLOGY,
    Category.ENGAGEMENT: common_pb2.INTENT_CATEGORY_ENGAGEMENT,
}
_CATEGORY = {value: key for key, value in CATEGORY_TO_PROTO.items()}
SOURCE_TO_PROTO = {
    Source.HIRING: pb.INTENT_SOURCE_HIRING,
    Source.TECHNOLOGY: pb.INTENT_SOURCE_TECHNOLOGY,
    Source.WEB_ACTIVITY: pb.INTENT_SOURCE_WEB_ACTIVITY,
}
_SOURCE = {value: key for key, value in SOURCE_TO_PROTO.items()}


def _categories(values: Any) -> frozenset[Category]:
    return frozenset(_CATEGORY[v] for v in values if v in _CATEGORY)


def _signal(current: CurrentSignal) -> common_pb2.IntentSignal:
    signal = current.signal
    return common_pb2.IntentSignal(
        name=signal.name,
        category=CATEGORY_TO_PROTO[signal.category],
        strength=current.strength,
        base_strength=signal.base_strength,
        observed_time=timestamp(signal.observed_time),
        source=signal.source,
        evidence=list(signal.evidence),
        count=signal.count,
    )


def _company(view: CompanyView) -> pb.CompanySignals:
    return pb.CompanySignals(
        company_domain=view.domain,
        signals=[_signal(s) for s in view.signals],
        pending_sources=[SOURCE_TO_PROTO[s] for s in view.pending],
        refresh_time=timestamp(view.refresh_time),
    )


def _event(event: pb.WebEvent) -> WebEventInput:
    occurred: datetime | None = None
    text = event.occurred_time_text
    if event.HasField("occurred_time"):
        try:
            occurred = event.occurred_time.ToDatetime(tzinfo=UTC)
        except (ValueError, OverflowError):
            text = f"{event.occurred_time.seconds}s since 1970"  # outside what a Timestamp may hold
    return WebEventInput(
        domain=event.domain,
        email=event.email,
        type=event.type,
        occurred_time=occurred,
        occurred_time_text=text,
        url=event.url,
    )


def _answer(answer: EventsAnswer) -> pb.RecordEventsResponse:
    return pb.RecordEventsResponse(
        accepted_count=answer.accepted_count,
        rejected=[
            pb.RejectedEvent(index=r.index, reason=r.reason, message=r.message) for r in answer.rejected
        ],
    )


class IntentServicer(pb_grpc.IntentServiceServicer):
    def __init__(self, signals: IntentSignals, first_fetch_wait: float, refresh_wait: float):
        self.signals = signals
        self.sandbox = SandboxSignals(signals.catalog, signals.competitors, signals.policy)
        self.first_fetch_wait = first_fetch_wait
        self.refresh_wait = refresh_wait

    async def GetSignals(self, request: pb.GetSignalsRequest, context: Context) -> pb.GetSignalsResponse:
        view = await self.signals.company(
            request.account_id,
            request.company_domain,
            _categories(request.categories),
            downstream_timeout(context, self.first_fetch_wait),
        )
        return pb.GetSignalsResponse(company=_company(view))

    async def GetSignalsBatch(
        self, request: pb.GetSignalsBatchRequest, context: Context
    ) -> pb.GetSignalsBatchResponse:
        views = await (self.sandbox if request.sandbox else self.signals).companies(
            request.account_id,
            list(request.company_domains),
            _categories(request.categories),
            downstream_timeout(context, self.first_fetch_wait),
        )
        return pb.GetSignalsBatchResponse(companies=[_company(v) for v in views])

    async def RecordEvents(
        self, request: pb.RecordEventsRequest, context: Context
    ) -> pb.RecordEventsResponse:
        if request.sandbox:
            return _answer(self.sandbox.check_events([_event(e) for e in request.events]))
        body = pb.RecordEventsRequest(events=request.events).SerializeToString(deterministic=True)
        answer = await self.signals.record_events(
            request.account_id,
            [_event(e) for e in request.events],
            request.request_id,
            hashlib.sha256(body).hexdigest(),
        )
        return _answer(answer)

    async def Refresh(self, request: pb.RefreshRequest, context: Context) -> pb.RefreshResponse:
        view = await self.signals.refresh(
            request.account_id,
            request.company_domain,
            [_SOURCE[s] for s in request.sources if s in _SOURCE],
            downstream_timeout(context, self.refresh_wait),
        )
        return pb.RefreshResponse(company=_company(view))
