"""The JSON of an enrichment record: the answers of POST /v1/enrich/lead, GET /v1/enrichments/{id}
and POST /v1/enrich/csv_row, and the models that document them in the OpenAPI.

The shapes are the seed's (the contract callers' code is written against), to the letter: every
field it lists is in every answer, null when unknown (a ``not_found`` answer has a ``lead`` whose
fields are all null); ``icp_signals`` and ``intent_signals`` are lists of names. What we add sits
beside them: ``icp_breakdown`` (the points of each ICP signal), ``intent_signal_details`` (each
intent signal's category, strength and recency), ``icp_tier``, ``phone``, ``linkedin_url``,
``meta.icp_profile_version``, ``meta.degraded``, ``meta.pending``, ``meta.demo`` and ``csv_row.row_ref``.

The answers are built as plain dicts (serialized once, by the route); the models are the
documentation, and the tests hold every answer and example to them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel, ConfigDict, Field

from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.vocabulary import (
    EMAIL_STATUS_NAMES,
    ICP_TIER_NAMES,
    INTENT_CATEGORY_NAMES,
    CompanySize,
    RevenueRange,
    Seniority,
    from_proto,
)

__all__ = [
    "LIVEMODE_FIELD",
    "CsvRowAnswer",
    "LeadAnswer",
    "csv_row_json",
    "lead_json",
    "record_json",
]


def _enum(names: Any, description: str) -> Any:
    return Field(description=description, json_schema_extra={"enum": [*names, None]})


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntentSignalDetail(_Shape):
    name: str = Field(description="The signal, as listed in `intent_signals`")
    category: Annotated[str | None, _enum(INTENT_CATEGORY_NAMES.values(), "What kind of intent")]
    strength: int = Field(description="0-100, decayed with the signal's age")
    observed_at: datetime | None = Field(description="When the signal was last seen (its recency)")
    source: str | None = Field(description="Where it was seen, e.g. greenhouse, homepage, web_events")
    evidence: list[str] = Field(description="What was seen, e.g. job titles or a detected script")


class IcpPoints(_Shape):
    name: str = Field(description="The signal, as listed in `icp_signals`")
    points: int = Field(description="Points it contributed to `icp_score`; negative for an exclusion")
    detail: str | None = Field(description="What matched, e.g. `director`")


class Lead(_Shape):
    email: str | None = Field(description="Work email, lower-cased")
    email_status: Annotated[
        str | None, _enum(EMAIL_STATUS_NAMES.values(), "Verification result; null without an email")
    ]
    first_name: str | None
    last_name: str | None
    title: str | None = Field(description="Normalised job title")
    seniority: Seniority | None
    company_name: str | None
    company_domain: str | None
    company_size: CompanySize | None = Field(description="Employee count range")
    company_industry: str | None
    company_revenue: RevenueRange | None = Field(description="Estimated annual revenue range")
    phone: str | None = Field(description="E.164; only when `fields` asks for `phone`")
    linkedin_url: str | None
    icp_score: int | None = Field(description="0-100 fit to your ICP; null with `skip_icp` or no score")
    icp_tier: Annotated[str | None, _enum(ICP_TIER_NAMES.values(), "80+, 50-79, below 50 by default")]
    icp_signals: list[str] = Field(description="Names of the ICP signals behind the score")
    icp_breakdown: list[IcpPoints] = Field(description="The points each ICP signal contributed")
    intent_signals: list[str] = Field(description="Names of the company's buying-intent signals")
    intent_signal_details: list[IntentSignalDetail] = Field(description="Each intent signal in full")


class Degradation(_Shape):
    component: str = Field(description="The part of the pipeline that did not answer in time")
    reason: str = Field(description="e.g. UNAVAILABLE, DEADLINE_EXCEEDED")


DEMO_FIELD = Field(
    description="Always present. True when this gateway runs in demo mode (`LEADMESH_DEMO=true`, "
    "`leadmesh up --demo`): the data comes from the built-in demo world (`.example` domains), not "
    "from real providers and mail servers; false otherwise."
)
LIVEMODE_FIELD = Field(
    description="Always present. False for an answer to a test key (`lm_test_...`): made in the "
    "sandbox (the demo directory under `.example`, nothing outside contacted), free, and kept "
    "apart from live data; true for a live key."
)


PENDING_FIELD = Field(
    description="Parts still being fetched when this answer was given: `intent` when the company's "
    "intent sources (website, job boards) did not answer within the wait budget "
    "(`LEADMESH_INTENT_FIRST_FETCH_WAIT`); they carry on in the background, and a later enrichment "
    "of the company carries their signals"
)


class Meta(_Shape):
    credits_used: int = Field(description="1, 11 with phone, 0 for not_found")
    providers_queried: int
    providers_matched: int
    confidence: float = Field(description="0.0-1.0")
    enriched_at: datetime
    icp_profile_version: int | None = Field(description="The ICP profile version that scored the lead")
    degraded: list[Degradation] = Field(description="Parts of the pipeline that were skipped")
    not_found_reason: Literal["suppressed"] | None = Field(
        default=None,
        description="Why a not_found lead was not found when it is not simply unknown: `suppressed` "
        "(on the account's suppression list, or erased from leadmesh at the person's request). "
        "Never charged.",
    )
    pending: list[str] = PENDING_FIELD
    demo: bool = DEMO_FIELD


class LeadAnswer(_Shape):
    id: str = Field(description="The record's id (`ev_...`), for GET /v1/enrichments/{id}")
    status: Literal["completed", "not_found"]
    lead: Lead = Field(description="All fields null when not_found")
    contacts: list[Lead] | None = Field(
        default=None, description="Only for a company alone (no person): its best-fit contacts by ICP score"
    )
    meta: Meta
    livemode: bool = LIVEMODE_FIELD


class CsvRow(_Shape):
    row_id: int = Field(description="The row's number in your file (1-indexed): the request's row_number")
    row_ref: str | None = Field(description="Your own reference for the row, as given in the request")
    input_email: str | None
    input_name: str | None
    enriched_email_status: Annotated[str | None, _enum(EMAIL_STATUS_NAMES.values(), "Verification result")]
    enriched_title: str | None
    enriched_seniority: Seniority | None
    enriched_company: str | None
    enriched_industry: str | None
    enriched_size: CompanySize | None
    enriched_phone: str | None
    enriched_linkedin: str | None
    icp_score: int | None


class CsvRowMeta(_Shape):
    credits_used: int
    providers_queried: int
    providers_matched: int
    confidence: float
    row_number: int = Field(description="As given in the request (1 by default)")
    total_rows: int = Field(description="As given in the request (1 by default)")
    degraded: list[Degradation]
    pending: list[str] = PENDING_FIELD
    demo: bool = DEMO_FIELD


class CsvRowAnswer(_Shape):
    id: str
    status: Literal["completed", "not_found"]
    csv_row: CsvRow
    meta: CsvRowMeta
    livemode: bool = LIVEMODE_FIELD


# The JSON


def _time(stamp: Timestamp) -> str:
    return stamp.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _or_none(value: str) -> str | None:
    return value or None


def _status(record: pb.EnrichmentRecord) -> str:
    return "completed" if record.state == pb.EnrichmentRecord.STATE_COMPLETED else "not_found"


def lead_json(lead: pb.EnrichedLead) -> dict[str, Any]:
    """Every field of ``Lead``; of an empty lead (a record not found) all null or empty."""
    person, company = lead.person, lead.company
    seniority = from_proto(Seniority, person.seniority)
    size = from_proto(CompanySize, company.size)
    revenue = from_proto(RevenueRange, company.revenue)
    has_icp = lead.HasField("icp")
    icp = lead.icp.signals
    intents = lead.intent_signals
    return {
        "email": _or_none(person.email),
        "email_status": EMAIL_STATUS_NAMES.get(lead.email_verdict.status, "unknown")
        if person.email
        else None,
        "first_name": _or_none(person.first_name),
        "last_name": _or_none(person.last_name),
        "title": _or_none(person.title),
        "seniority": seniority.value if seniority else None,
        "company_name": _or_none(company.name),
        "company_domain": _or_none(company.domain),
        "company_size": size.value if size else None,
        "company_industry": _or_none(company.industry),
        "company_revenue": revenue.value if revenue else None,
        "phone": _or_none(person.phone),
        "linkedin_url": _or_none(person.linkedin_url),
        "icp_score": lead.icp.score if has_icp else None,
        "icp_tier": ICP_TIER_NAMES.get(lead.icp.tier) if has_icp else None,
        "icp_signals": [s.name for s in icp],
        "icp_breakdown": [{"name": s.name, "points": s.points, "detail": _or_none(s.detail)} for s in icp],
        "intent_signals": [s.name for s in intents],
        "intent_signal_details": [
            {
                "name": s.name,
                "category": INTENT_CATEGORY_NAMES.get(s.category),
                "strength": s.strength,
                "observed_at": _time(s.observed_time) if s.HasField("observed_time") else None,
                "source": _or_none(s.source),
                "evidence": list(s.evidence),
            }
            for s in intents
        ],
    }


def _meta(record: pb.EnrichmentRecord, demo: bool) -> dict[str, Any]:
    meta = record.meta
    return {
        "credits_used": meta.credits_used,
        "providers_queried": meta.providers_queried,
        "providers_matched": meta.providers_matched,
        "confidence": meta.confidence,
        "enriched_at": _time(meta.enriched_time),
        "icp_profile_version": meta.icp_profile_version or None,
        "degraded": [{"component": d.component, "reason": d.reason} for d in meta.degradations],
        "not_found_reason": meta.not_found_reason or None,
        "pending": list(meta.pending),
        "demo": demo,
    }


def record_json(record: pb.EnrichmentRecord, demo: bool) -> dict[str, Any]:
    """A ``LeadAnswer``."""
    body: dict[str, Any] = {
        "id": record.id,
        "status": _status(record),
        "lead": lead_json(record.lead),
        "meta": _meta(record, demo),
        "livemode": not record.sandbox,
    }
    if record.company_only or record.contacts:  # records stored before company_only: contacts
        body["contacts"] = [lead_json(contact) for contact in record.contacts]
    return body


def csv_row_json(
    record: pb.EnrichmentRecord, row_number: int, total_rows: int, row_ref: str | None, demo: bool
) -> dict[str, Any]:
    """A ``CsvRowAnswer``."""
    lead = lead_json(record.lead)
    given = record.input
    name = given.full_name or " ".join(p for p in (given.first_name, given.last_name) if p)
    meta = _meta(record, demo)
    return {
        "id": record.id,
        "status": _status(record),
        "csv_row": {
            "row_id": row_number,
            "row_ref": row_ref,
            "input_email": _or_none(given.email),
            "input_name": _or_none(name),
            "enriched_email_status": lead["email_status"],
            "enriched_title": lead["title"],
            "enriched_seniority": lead["seniority"],
            "enriched_company": lead["company_name"],
            "enriched_industry": lead["company_industry"],
            "enriched_size": lead["company_size"],
            "enriched_phone": lead["phone"],
            "enriched_linkedin": lead["linkedin_url"],
            "icp_score": lead["icp_score"],
        },
        "meta": {
            "credits_used": meta["credits_used"],
            "providers_queried": meta["providers_queried"],
            "providers_matched": meta["providers_matched"],
            "confidence": meta["confidence"],
            "row_number": row_number,
            "total_rows": total_rows,
            "degraded": meta["degraded"],
            "pending": meta["pending"],
            "demo": demo,
        },
        "livemode": not record.sandbox,
    }
