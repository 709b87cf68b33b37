"""Assembly of the records from what the pipeline's stages produced (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from leadmesh.providers.v1 import providers_service_pb2 as providers_pb
from libs.ids import new_id
from libs.privacy import SUPPRESSED
from services.enrichment.domain import (
    DEFAULT_CONTACTS,
    Degradation,
    confidence,
    is_company_only,
    rank_contacts,
)

__all__ = ["Stages", "Subject", "build_record", "enriched"]

_DEGRADED_OUTCOMES = {
    providers_pb.ProviderAttempt.OUTCOME_ERROR: "ERROR",
    providers_pb.ProviderAttempt.OUTCOME_TIMEOUT: "DEADLINE_EXCEEDED",
    providers_pb.ProviderAttempt.OUTCOME_CIRCUIT_OPEN: "CIRCUIT_OPEN",
}


@dataclass
class Subject:
    item: int
    person: common.Person
    company: common.Company
    verdict: common.EmailVerdict | None = None
    signals: Sequence[common.IntentSignal] = ()
    icp: common.IcpScore | None = None
    # The company's intent sources were still being fetched.
    intent_pending: bool = False


@dataclass
class Stages:
    """What the stages after the lookup produced, for every item of the call."""

    subjects: list[Subject] = field(default_factory=list)
    degradations: list[Degradation] = field(default_factory=list)
    profile_version: int = 0


def build_record(
    now: float,
    account_id: str,
    lead: common.LeadInput,
    result: providers_pb.LookupResult,
    item: int,
    stages: Stages,
    options: pb.EnrichOptions,
    price: int,
    record_id: str = "",
) -> pb.EnrichmentRecord:
    degradations = list(stages.degradations) + [
        Degradation(f"providers:{a.provider}", _DEGRADED_OUTCOMES[a.outcome])
        for a in result.attempts
        if a.outcome in _DEGRADED_OUTCOMES
    ]
    record = pb.EnrichmentRecord(
        id=record_id or new_id("ev"),
        account_id=account_id,
        state=pb.EnrichmentRecord.STATE_COMPLETED if result.found else pb.EnrichmentRecord.STATE_NOT_FOUND,
        input=lead,
        company_only=is_company_only(lead),
        sandbox=options.sandbox,
        meta=pb.EnrichmentMeta(
            credits_used=price,
            providers_queried=result.providers_queried,
            providers_matched=result.providers_matched,
            confidence=confidence(result.confidence, degradations) if result.found else 0.0,
            icp_profile_version=stages.profile_version,
            degradations=[pb.Degradation(component=d.component, reason=d.reason) for d in degradations],
            pending=["intent"] if any(s.intent_pending for s in stages.subjects if s.item == item) else [],
        ),
    )
    record.meta.enriched_time.FromNanoseconds(int(now * 1e9) // 1_000_000 * 1_000_000)
    if result.suppressed:
        # Not even the input is kept of a person who must not be enriched.
        record.meta.not_found_reason = SUPPRESSED
        record.input.CopyFrom(common.LeadInput())
    if not result.found:
        return record
    mine = [enriched(s) for s in stages.subjects if s.item == item]
    if record.company_only:
        record.lead.company.CopyFrom(result.company)
        if mine:
            record.lead.intent_signals.extend(mine[0].intent_signals)
        record.contacts.extend(rank_contacts(mine, options.max_contacts or DEFAULT_CONTACTS))
    elif mine:
        record.lead.CopyFrom(mine[0])
    return record


def enriched(subject: Subject) -> pb.EnrichedLead:
    lead = pb.EnrichedLead(person=subject.person, company=subject.company, intent_signals=subject.signals)
    if subject.verdict is not None:
        lead.email_verdict.CopyFrom(subject.verdict)
    if subject.icp is not None:
        lead.icp.CopyFrom(subject.icp)
    return lead
