"""Pure rules of the pipeline: what a lead costs, how degradations lower the confidence, the
fingerprint that tells a retried request from a different one, and contact ranking."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.errors import InvalidArgument
from libs.leads import BASE_COST, DEFAULT_CONTACTS, MAX_CONTACTS, PHONE_COST, lead_cost, validate_lead

__all__ = [
    "BASE_COST",
    "DEFAULT_CONTACTS",
    "MAX_CONTACTS",
    "PHONE_COST",
    "Degradation",
    "charge_key",
    "confidence",
    "cost",
    "fingerprint",
    "is_company_only",
    "validate_lead",
]

# Each degraded component keeps this share of the providers' confidence.
DEGRADED_SHARE = 0.85
# Billing's longest idempotency key (services/billing/domain/charges.py MAX_KEY_LENGTH).
MAX_BILLING_KEY = 200


@dataclass(frozen=True)
class Degradation:
    component: str
    reason: str


def cost(options: pb.EnrichOptions) -> int:
    """Credits of one enriched lead: 11 when the phone is asked for, else 1; in test mode
    (``sandbox``) nothing."""
    return 0 if options.sandbox else lead_cost(options.fields)


def confidence(providers_confidence: float, degradations: Iterable[Degradation]) -> float:
    value = providers_confidence
    for _ in degradations:
        value *= DEGRADED_SHARE
    return round(max(0.0, min(1.0, value)), 2)


def fingerprint(lead: common.LeadInput, options: pb.EnrichOptions) -> str:
    """Same for the same lead and options however the request was spelled (field order, case of
    the email and domain), different otherwise."""
    parts = [
        lead.email.strip().lower(),
        lead.first_name.strip(),
        lead.last_name.strip(),
        lead.full_name.strip(),
        lead.company_name.strip(),
        lead.company_domain.strip().lower(),
        lead.linkedin_url.strip(),
        ",".join(str(f) for f in sorted(set(options.fields))),
        str(options.skip_icp),
        str(options.refresh),
        str(options.max_contacts),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def charge_key(request_id: str) -> str:
    """The billing idempotency key of a request (never in billing's reserved ``lm:`` space). A
    request id too long for billing's keys (a 200-character Idempotency-Key is ``key:`` and 200
    characters) is charged under its digest."""
    key = f"enrich:{request_id}"
    if len(key) <= MAX_BILLING_KEY:
        return key
    return "enrich:sha256:" + hashlib.sha256(request_id.encode()).hexdigest()


def is_company_only(lead: common.LeadInput) -> bool:
    """A company and no person: answered by its best-fit contacts (the record's ``company_only``)."""
    has_person = bool(lead.email or lead.linkedin_url or lead.full_name or lead.first_name or lead.last_name)
    return not has_person and bool(lead.company_name or lead.company_domain)


def validate_options(options: pb.EnrichOptions) -> None:
    if not 0 <= options.max_contacts <= MAX_CONTACTS:
        raise InvalidArgument(
            f"max_contacts must be between 0 and {MAX_CONTACTS}",
            reason="INVALID_MAX_CONTACTS",
            metadata={"field": "options.max_contacts"},
        )
    for group in options.fields:
        if group == common.FIELD_GROUP_UNSPECIFIED or group not in common.FieldGroup.values():
            raise InvalidArgument(
                "options.fields has an unknown field group",
                reason="INVALID_FIELDS",
                metadata={"field": "fields"},
            )


def rank_contacts(contacts: Sequence[pb.EnrichedLead], limit: int) -> list[pb.EnrichedLead]:
    """Best fit first (unscored last), stable for ties; at most ``limit``."""
    order = sorted(
        range(len(contacts)),
        key=lambda i: -(contacts[i].icp.score if contacts[i].HasField("icp") else -1),
    )
    return [contacts[i] for i in order[:limit]]
