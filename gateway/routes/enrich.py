"""POST /v1/enrich/lead, POST /v1/enrich/csv_row and GET /v1/enrichments/{id}.

One raw lead in (an email; a name with a company or company domain; a company or domain alone;
or a LinkedIn URL), one scored record out. A company alone answers its best-fit contacts, ranked
by ICP score. 1 credit per enriched lead, 11 when `fields` includes `phone`; `not_found` is free.
With `Idempotency-Key` a retried request returns the first answer and is charged once (another
body with the same key is 409); without it every request is new (`X-Request-Id` is for tracing
only and never deduplicates). Every answer carries `X-Credits-Remaining` and the key's
`X-RateLimit-*` headers; over the limit the answer is 429 with `Retry-After`.

POST /v1/enrich/csv_row enriches one row of a caller's file: its `row_number` (1 unless given) is
answered as `csv_row.row_id` and `meta.row_number`, and a caller's own `row_ref` is echoed. The
answers' shapes are the seed's, built in :mod:`gateway.records`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Body, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from gateway import examples
from gateway.auth import Caller, CurrentCaller
from gateway.records import CsvRowAnswer, LeadAnswer, csv_row_json, record_json
from gateway.settings import GatewaySettings
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.ids import new_id
from libs.leads import FIELD_GROUPS, MAX_CONTACTS
from libs.normalize import as_company_domain

router = APIRouter(prefix="/v1", tags=["enrich"])

MAX_FIELD = 320
FieldName = Literal["person", "company", "email", "phone", "linkedin"]
Text = Annotated[str | None, Field(default=None, max_length=MAX_FIELD)]


class LeadBody(BaseModel):
    email: Text = None
    first_name: Text = None
    last_name: Text = None
    name: Text = None
    company: Text = None
    company_domain: Text = None
    domain: Text = None
    linkedin_url: Text = None
    fields: list[FieldName] | None = Field(default=None, max_length=5, description="Field groups")
    skip_icp: bool = False
    refresh: bool = False
    max_contacts: int | None = Field(default=None, ge=1, le=MAX_CONTACTS, description="Company-only leads")


class CsvRowBody(BaseModel):
    email: Text = None
    name: Text = None
    first_name: Text = None
    last_name: Text = None
    company: Text = None
    linkedin_url: Text = None
    row_number: int = Field(
        default=1, ge=1, description="The row's number in your file, 1-indexed: the answer's `row_id`"
    )
    total_rows: int = Field(default=1, ge=1, description="Rows in your file")
    row_ref: Text = Field(default=None, description="Your own reference for the row, echoed as `row_ref`")
    fields: list[FieldName] | None = Field(default=None, max_length=5)

    @model_validator(mode="before")
    @classmethod
    def _no_row_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "row_id" in data:
            raise ValueError(
                "row_id is the answer's row number: send row_number (and your own reference as row_ref)"
            )
        return data

    @model_validator(mode="after")
    def _row_within_file(self) -> Self:
        if self.row_number > self.total_rows:
            raise ValueError(f"row_number {self.row_number} is past total_rows {self.total_rows}")
        return self


def _company(value: str | None) -> tuple[str, str]:
    """(name, domain): a company field holding a domain (``acme.com``) is a domain."""
    text = (value or "").strip()
    domain = as_company_domain(text)
    return ("", domain) if domain else (text, "")


def _options(caller: Caller, fields: list[FieldName] | None, **extra: Any) -> pb.EnrichOptions:
    """The options of a call; a test key's go to the sandbox."""
    groups = sorted({FIELD_GROUPS[f] for f in fields or ()})
    return pb.EnrichOptions(fields=groups, sandbox=caller.test_mode, **extra)


IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200, description="Retries with this key are charged once"),
]


async def _enrich(
    request: Request, caller: Caller, key: str | None, lead: common.LeadInput, options: pb.EnrichOptions
) -> pb.EnrichLeadResponse:
    settings: GatewaySettings = request.app.state.settings
    answer: pb.EnrichLeadResponse = await request.app.state.mesh.enrichment.EnrichLead(
        pb.EnrichLeadRequest(
            account_id=caller.account_id,
            request_id=f"key:{key}" if key else new_id("req"),
            lead=lead,
            options=options,
            new_request_id=not key,
        ),
        timeout=settings.enrich_timeout,
    )
    return answer


def _answer(response: Response, answer: pb.EnrichLeadResponse, content: dict[str, Any]) -> JSONResponse:
    """``content`` as the JSON body, with the headers set on ``response`` (rate limits) and the
    credits left. Serialized here: returned as a dict, FastAPI's encoder walks it once more first
    (about 90 us of CPU a record)."""
    response.headers["X-Credits-Remaining"] = str(answer.credits_remaining)
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    body = JSONResponse(content)
    body.headers.raw.extend(response.headers.raw)
    return body


def _demo(request: Request) -> bool:
    settings: GatewaySettings = request.app.state.settings
    return settings.demo


@router.post(
    "/enrich/lead",
    summary="Enrich and score one lead",
    response_model=LeadAnswer,
    responses={200: examples.json_examples(examples.LEAD_ANSWERS)},
)
async def enrich_lead(
    request: Request,
    response: Response,
    body: Annotated[LeadBody, Body(openapi_examples=examples.LEAD_REQUESTS)],
    caller: CurrentCaller,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    first, last = (body.first_name or "").strip(), (body.last_name or "").strip()
    company_name, company_domain = _company(body.company)
    lead = common.LeadInput(
        email=(body.email or "").strip(),
        first_name=first,
        last_name=last,
        full_name=(body.name or "").strip(),
        company_name=company_name,
        company_domain=(body.company_domain or body.domain or company_domain or "").strip().lower(),
        linkedin_url=(body.linkedin_url or "").strip(),
    )
    options = _options(
        caller, body.fields, skip_icp=body.skip_icp, refresh=body.refresh, max_contacts=body.max_contacts or 0
    )
    answer = await _enrich(request, caller, idempotency_key, lead, options)
    return _answer(response, answer, record_json(answer.record, _demo(request)))


@router.post(
    "/enrich/csv_row",
    summary="Enrich one CSV-shaped row",
    response_model=CsvRowAnswer,
    responses={200: examples.json_examples(examples.CSV_ROW_ANSWERS)},
)
async def enrich_csv_row(
    request: Request,
    response: Response,
    body: Annotated[CsvRowBody, Body(openapi_examples=examples.CSV_ROW_REQUESTS)],
    caller: CurrentCaller,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    company_name, company_domain = _company(body.company)
    lead = common.LeadInput(
        email=(body.email or "").strip(),
        first_name=(body.first_name or "").strip(),
        last_name=(body.last_name or "").strip(),
        full_name=(body.name or "").strip(),
        company_name=company_name,
        company_domain=company_domain,
        linkedin_url=(body.linkedin_url or "").strip(),
    )
    answer = await _enrich(request, caller, idempotency_key, lead, _options(caller, body.fields))
    row = csv_row_json(answer.record, body.row_number, body.total_rows, body.row_ref, _demo(request))
    return _answer(response, answer, row)


@router.get(
    "/enrichments/{enrichment_id}",
    summary="A stored enrichment record",
    response_model=LeadAnswer,
    responses={200: examples.json_examples(examples.LEAD_ANSWERS)},
)
async def get_enrichment(
    request: Request,
    caller: CurrentCaller,
    enrichment_id: Annotated[str, Path(max_length=64)],
) -> Response:
    mesh = request.app.state.mesh
    got, balance = await asyncio.gather(
        mesh.enrichment.GetEnrichment(
            pb.GetEnrichmentRequest(account_id=caller.account_id, id=enrichment_id, sandbox=caller.test_mode)
        ),
        mesh.billing.GetBalance(billing_pb.GetBalanceRequest(account_id=caller.account_id)),
    )
    return JSONResponse(
        record_json(got.record, _demo(request)), headers={"X-Credits-Remaining": str(balance.balance)}
    )
