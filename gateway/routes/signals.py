"""POST /v1/signals/events: first-party web activity a customer sends from its own site.

Each event names a company (``domain``, or a visitor ``email`` whose domain is used), its
``type`` and when it happened. The answer says how many were accepted and, for each rejected one,
its index and why; the intent service decides (the gateway passes the time through as text so
that an unparseable time rejects only its own event). At most 1,000 events per call. With an
``Idempotency-Key`` a retried call records nothing twice. A test key's events are checked and
counted, never recorded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway import examples
from gateway.auth import CurrentCaller
from gateway.errors import ApiError
from gateway.records import LIVEMODE_FIELD
from leadmesh.intent.v1 import intent_service_pb2 as pb

router = APIRouter(prefix="/v1", tags=["signals"])
# The intent service's default limit (``intent_max_events``), refused here before parsing them.
MAX_EVENTS = 1000


class WebEvent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "domain": "acme.com",
                    "email": "jane@acme.com",
                    "type": "pricing_page_view",
                    "occurred_at": "2026-11-20T10:00:00Z",
                    "url": "https://yoursite.com/pricing",
                }
            ]
        }
    )

    domain: str | None = Field(default=None, max_length=253, description="Company domain (or give `email`)")
    email: str | None = Field(
        default=None, max_length=320, description="Visitor work email; its domain is used without `domain`"
    )
    type: str | None = Field(
        default=None,
        max_length=64,
        description="e.g. pricing_page_view, competitor_comparison_view, demo_request, docs_view, "
        "trial_signup, contact_sales",
    )
    occurred_at: str | None = Field(
        default=None, max_length=64, description="RFC 3339 time; when received if absent"
    )
    url: str | None = Field(default=None, max_length=2048, description="The page, if any")


class RecordEventsBody(BaseModel):
    events: list[WebEvent] = Field(
        description=f"At most {MAX_EVENTS:,} events", json_schema_extra={"maxItems": MAX_EVENTS}
    )

    @field_validator("events", mode="before")
    @classmethod
    def _at_most_max_events(cls, events: object) -> object:
        # Counted before any event is parsed, and answered as the intent service answers it.
        if isinstance(events, list) and len(events) > MAX_EVENTS:
            raise ApiError(
                400, f"at most {MAX_EVENTS} events per call, got {len(events)}; split them", "TOO_MANY_EVENTS"
            )
        return events


class RejectedEvent(BaseModel):
    index: int = Field(description="Position of the event in `events`, from 0")
    reason: str = Field(
        description="unknown_type, unparseable_time, future_time, missing_domain, invalid_domain, "
        "invalid_email or personal_email"
    )
    message: str


class RecordEventsResult(BaseModel):
    accepted: int = Field(description="Events recorded")
    rejected: list[RejectedEvent]
    livemode: bool = LIVEMODE_FIELD


@router.post(
    "/signals/events",
    response_model=RecordEventsResult,
    summary="Record web activity from your own site as intent signals",
    responses={200: examples.json_example(examples.EVENTS_ANSWER)},
)
async def record_events(
    request: Request,
    body: Annotated[RecordEventsBody, Body(openapi_examples=examples.EVENTS_REQUESTS)],
    caller: CurrentCaller,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=128,
            description="A retry with the same key records nothing twice",
        ),
    ] = None,
) -> RecordEventsResult:
    answer = await request.app.state.mesh.intent.RecordEvents(
        pb.RecordEventsRequest(
            account_id=caller.account_id,
            request_id=idempotency_key or "",
            sandbox=caller.test_mode,
            events=[
                pb.WebEvent(
                    domain=event.domain or "",
                    email=event.email or "",
                    type=event.type or "",
                    occurred_time_text=event.occurred_at or "",
                    url=event.url or "",
                )
                for event in body.events
            ],
        )
    )
    return RecordEventsResult(
        accepted=answer.accepted_count,
        rejected=[RejectedEvent(index=r.index, reason=r.reason, message=r.message) for r in answer.rejected],
        livemode=not caller.test_mode,
    )
