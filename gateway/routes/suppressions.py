"""/v1/suppressions: the account's do-not-enrich list of addresses and domains.

A suppressed lead is never enriched for the account (single leads, CSV rows, a company's
contacts): it is answered ``not_found`` with ``meta.not_found_reason: "suppressed"``, free.
Only keyed hashes are stored: the list shows a domain, and an address as ``***@domain``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway import examples
from gateway.auth import CurrentCaller
from leadmesh.providers.v1 import providers_service_pb2 as pb

router = APIRouter(prefix="/v1", tags=["suppressions"])

MAX_PER_CALL = 1000
_KINDS = {pb.Suppression.KIND_EMAIL: "email", pb.Suppression.KIND_DOMAIN: "domain"}
SuppressionId = Annotated[str, Path(max_length=64, pattern=r"^sup_[0-9a-zA-Z]+$")]


class SuppressionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emails: list[Annotated[str, Field(max_length=320)]] = Field(
        default_factory=list, description="Addresses never to enrich", max_length=MAX_PER_CALL
    )
    domains: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=list,
        description="Company domains none of whose people are enriched",
        max_length=MAX_PER_CALL,
    )


class Suppression(BaseModel):
    id: str
    type: Literal["email", "domain"]
    value: str = Field(description="The domain, or an address as ***@domain (only its keyed hash is kept)")
    created_at: datetime


class AddedSuppressions(BaseModel):
    data: list[Suppression]
    added: int = Field(description="How many were new (the others were on the list already)")


class DeletedSuppression(BaseModel):
    id: str
    deleted: Literal[True]


class SuppressionList(BaseModel):
    data: list[Suppression]
    next_page_token: str | None


def _suppression(message: pb.Suppression) -> Suppression:
    return Suppression(
        id=message.id,
        type=_KINDS.get(message.kind, "email"),  # type: ignore[arg-type]
        value=message.display,
        created_at=message.create_time.ToDatetime(tzinfo=UTC),
    )


@router.post(
    "/suppressions",
    response_model=AddedSuppressions,
    status_code=201,
    summary="Suppress leads",
    responses={201: examples.json_example(examples.SUPPRESSIONS_ADDED)},
)
async def add_suppressions(
    request: Request,
    caller: CurrentCaller,
    body: Annotated[SuppressionsBody, Body(openapi_examples=examples.SUPPRESSIONS_REQUESTS)],
) -> AddedSuppressions:
    added = await request.app.state.mesh.providers.AddSuppressions(
        pb.AddSuppressionsRequest(account_id=caller.account_id, emails=body.emails, domains=body.domains)
    )
    return AddedSuppressions(data=[_suppression(s) for s in added.suppressions], added=added.added_count)


@router.get(
    "/suppressions",
    response_model=SuppressionList,
    summary="The account's suppressions, newest first",
    responses={200: examples.json_example(examples.SUPPRESSION_LIST)},
)
async def list_suppressions(
    request: Request,
    caller: CurrentCaller,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=512)] = None,
) -> SuppressionList:
    page = await request.app.state.mesh.providers.ListSuppressions(
        pb.ListSuppressionsRequest(
            account_id=caller.account_id, page_size=page_size, page_token=page_token or ""
        )
    )
    return SuppressionList(
        data=[_suppression(s) for s in page.suppressions], next_page_token=page.next_page_token or None
    )


@router.delete(
    "/suppressions/{suppression_id}",
    response_model=DeletedSuppression,
    summary="Enrich a suppressed lead again",
    responses={200: examples.json_example({"id": "sup_0193a1b2c3d4Xy7Qa9Lm2P", "deleted": True})},
)
async def delete_suppression(
    request: Request, caller: CurrentCaller, suppression_id: SuppressionId
) -> DeletedSuppression:
    await request.app.state.mesh.providers.DeleteSuppression(
        pb.DeleteSuppressionRequest(account_id=caller.account_id, id=suppression_id)
    )
    return DeletedSuppression(id=suppression_id, deleted=True)
