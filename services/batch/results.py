"""A row's outcome as the cells appended to it in the result CSV (after ``row_id`` and ``status``)."""

from __future__ import annotations

from leadmesh.enrichment.v1 import enrichment_service_pb2 as enrichment_pb
from libs.vocabulary import (
    EMAIL_STATUS_NAMES,
    ICP_TIER_NAMES,
    CompanySize,
    RevenueRange,
    Seniority,
    from_proto,
)

__all__ = ["ENRICHED", "FAILED", "INVALID_INPUT", "NOT_FOUND", "STATUSES", "empty_cells", "enriched_cells"]

ENRICHED, NOT_FOUND, INVALID_INPUT, FAILED = "enriched", "not_found", "invalid_input", "failed"
STATUSES = (ENRICHED, NOT_FOUND, INVALID_INPUT, FAILED)
# enriched_email_status ... intent_signals: the output columns after row_id and status.
APPENDED = 14


def empty_cells() -> list[str]:
    return [""] * APPENDED


def _name(value: object | None) -> str:
    return "" if value is None else str(value)


def enriched_cells(record: enrichment_pb.EnrichmentRecord) -> list[str]:
    """The enrichment columns of a completed record (a company-only row fills the company ones)."""
    lead = record.lead
    person, company = lead.person, lead.company
    has_icp = lead.HasField("icp")
    cells = [
        EMAIL_STATUS_NAMES.get(lead.email_verdict.status, "unknown") if person.email else "",
        person.title,
        _name(from_proto(Seniority, person.seniority)),
        company.name,
        company.domain,
        company.industry,
        _name(from_proto(CompanySize, company.size)),
        _name(from_proto(RevenueRange, company.revenue)),
        person.phone,
        person.linkedin_url,
        str(lead.icp.score) if has_icp else "",
        ICP_TIER_NAMES.get(lead.icp.tier, "") if has_icp else "",
        "; ".join(signal.name for signal in lead.icp.signals),
        "; ".join(signal.name for signal in lead.intent_signals),
    ]
    assert len(cells) == APPENDED
    return cells
