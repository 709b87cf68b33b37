"""ProvidersService over gRPC: proto in, domain call, proto out."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument
from libs.normalize import Department, Seniority
from services.providers.domain.fields import lead_from_input
from services.providers.domain.models import (
    Attempt,
    FieldGroup,
    FieldSource,
    Lead,
    LookupResult,
    Outcome,
    Record,
)
from services.providers.domain.waterfall import DEFAULT_GROUPS, LookupRequest
from services.providers.lookup import ProviderLookup

__all__ = ["ProvidersServicer"]

Context = Any
M = TypeVar("M", bound=Message)

_GROUPS = {
    common.FIELD_GROUP_PERSON: FieldGroup.PERSON,
    common.FIELD_GROUP_COMPANY: FieldGroup.COMPANY,
    common.FIELD_GROUP_EMAIL: FieldGroup.EMAIL,
    common.FIELD_GROUP_PHONE: FieldGroup.PHONE,
    common.FIELD_GROUP_LINKEDIN: FieldGroup.LINKEDIN,
}
_SENIORITY: dict[str, int] = {s.value: common.Seniority.Value(f"SENIORITY_{s.name}") for s in Seniority}
_SENIORITY_NAME = {number: name for name, number in _SENIORITY.items()}
_DEPARTMENT: dict[str, int] = {d.value: common.Department.Value(f"DEPARTMENT_{d.name}") for d in Department}
_DEPARTMENT_NAME = {number: name for name, number in _DEPARTMENT.items()}
_SIZE: dict[str, int] = {
    "1-10": common.COMPANY_SIZE_1_10,
    "11-50": common.COMPANY_SIZE_11_50,
    "51-200": common.COMPANY_SIZE_51_200,
    "201-500": common.COMPANY_SIZE_201_500,
    "501-1000": common.COMPANY_SIZE_501_1000,
    "1001-5000": common.COMPANY_SIZE_1001_5000,
    "5001-10000": common.COMPANY_SIZE_5001_10000,
    "10001+": common.COMPANY_SIZE_10001_PLUS,
}
_REVENUE: dict[str, int] = {
    "$0-$1M": common.REVENUE_RANGE_0_1M,
    "$1M-$10M": common.REVENUE_RANGE_1M_10M,
    "$10M-$25M": common.REVENUE_RANGE_10M_25M,
    "$25M-$50M": common.REVENUE_RANGE_25M_50M,
    "$50M-$100M": common.REVENUE_RANGE_50M_100M,
    "$100M-$250M": common.REVENUE_RANGE_100M_250M,
    "$250M-$500M": common.REVENUE_RANGE_250M_500M,
    "$500M-$1B": common.REVENUE_RANGE_500M_1B,
    "$1B+": common.REVENUE_RANGE_1B_PLUS,
}
_OUTCOME = {
    Outcome.MATCHED: pb.ProviderAttempt.OUTCOME_MATCHED,
    Outcome.NO_MATCH: pb.ProviderAttempt.OUTCOME_NO_MATCH,
    Outcome.LOW_CONFIDENCE: pb.ProviderAttempt.OUTCOME_LOW_CONFIDENCE,
    Outcome.ERROR: pb.ProviderAttempt.OUTCOME_ERROR,
    Outcome.TIMEOUT: pb.ProviderAttempt.OUTCOME_TIMEOUT,
    Outcome.CIRCUIT_OPEN: pb.ProviderAttempt.OUTCOME_CIRCUIT_OPEN,
    Outcome.CACHED: pb.ProviderAttempt.OUTCOME_CACHED,
    Outcome.SKIPPED: pb.ProviderAttempt.OUTCOME_SKIPPED,
}
_CONVERT: dict[str, dict[str, int]] = {
    "seniority": _SENIORITY,
    "department": _DEPARTMENT,
    "size": _SIZE,
    "revenue": _REVENUE,
}
_STRING_PERSON = frozenset(
    {
        "first_name",
        "last_name",
        "full_name",
        "email",
        "title",
        "raw_title",
        "phone",
        "linkedin_url",
        "country",
        "city",
    }
)
_STRING_COMPANY = frozenset({"name", "domain", "industry", "country", "linkedin_url", "phone"})
MAX_CONTACTS = 50


class _Sources:
    """What one response shares: a FieldSource message per distinct source (every field one
    match filled has the same), and the converted contacts of a company (its leads share them).

    Messages are built as plain dicts and made into protobuf in one constructor call per
    response: far cheaper than a message object per field that is then copied into its parent.
    """

    def __init__(self) -> None:
        self._made: dict[FieldSource, common.FieldSource] = {}
        self.contacts: dict[int, dict[str, Any]] = {}

    def of(self, source: FieldSource) -> common.FieldSource:
        made = self._made.get(source)
        if made is None:
            stamp = Timestamp()
            stamp.FromDatetime(source.observed_at)
            made = common.FieldSource(
                provider=source.provider, confidence=source.confidence, observed_time=stamp
            )
            self._made[source] = made
        return made


def _fields(record: Record, strings: frozenset[str], sources: _Sources) -> dict[str, Any]:
    """A Person or Company as a dict: converted values and their sources."""
    fields: dict[str, Any] = {}
    field_sources: dict[str, common.FieldSource] = {}
    for name, value in record.values.items():
        if name in strings:
            fields[name] = str(value)
        elif name in _CONVERT:
            fields[name] = _CONVERT[name].get(str(value), 0)
        elif name == "employee_count":
            fields[name] = int(value)
        elif name == "technologies":
            fields[name] = [str(t) for t in value]
        else:
            continue
        field_sources[name] = sources.of(record.sources[name])
    fields["field_sources"] = field_sources
    return fields


def _contact(record: Record, sources: _Sources) -> dict[str, Any]:
    made = sources.contacts.get(id(record))
    if made is None:
        made = sources.contacts[id(record)] = _fields(record, _STRING_PERSON, sources)
    return made


def _attempt(attempt: Attempt) -> dict[str, Any]:
    nanos = int(attempt.duration * 1e9)
    return {
        "provider": attempt.provider,
        "outcome": _OUTCOME[attempt.outcome],
        "duration": {"seconds": nanos // 1_000_000_000, "nanos": nanos % 1_000_000_000},
        "reason": attempt.reason,
    }


def _result(result: LookupResult, sources: _Sources) -> dict[str, Any]:
    """A LookupResult as a dict (see _Sources)."""
    message: dict[str, Any] = {
        "found": result.found,
        "providers_queried": result.providers_queried,
        "providers_matched": result.providers_matched,
        "confidence": result.confidence,
        "attempts": [_attempt(a) for a in result.attempts],
    }
    if result.person:
        message["person"] = _fields(result.person, _STRING_PERSON, sources)
    if result.company:
        message["company"] = _fields(result.company, _STRING_COMPANY, sources)
    if result.contacts:
        message["contacts"] = [_contact(c, sources) for c in result.contacts]
    return message


def _message(kind: type[M], fields: dict[str, Any]) -> M:
    """A message from a tree of dicts (the generated stubs type only message arguments)."""
    return kind(**fields)


def _lead(lead: common.LeadInput) -> Lead:
    return lead_from_input(
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        full_name=lead.full_name,
        company_name=lead.company_name,
        company_domain=lead.company_domain,
        linkedin_url=lead.linkedin_url,
    )


def _request(options: pb.LookupOptions, context: Context) -> LookupRequest:
    groups = frozenset(_GROUPS[g] for g in options.fields if g in _GROUPS) or DEFAULT_GROUPS
    if options.max_contacts < 0:
        raise InvalidArgument("max_contacts must not be negative", reason="INVALID_MAX_CONTACTS")
    remaining = context.time_remaining() if context is not None else None
    deadline = time.monotonic() + float(remaining) - 0.05 if remaining is not None else None
    return LookupRequest(
        groups=groups,
        refresh=options.refresh,
        max_contacts=min(options.max_contacts or 5, MAX_CONTACTS),
        deadline=deadline,
    )


def _names(values: Iterable[int], names: dict[int, str], what: str) -> list[str]:
    out = []
    for value in values:
        if value not in names:
            raise InvalidArgument(f"unknown {what} {value}", reason=f"INVALID_{what.upper()}")
        out.append(names[value])
    return out


class ProvidersServicer(pb_grpc.ProvidersServiceServicer):
    def __init__(self, lookup: ProviderLookup):
        self.lookup = lookup

    async def Lookup(self, request: pb.LookupRequest, context: Context) -> pb.LookupResponse:
        lead = _lead(request.lead)
        if not lead.identifiable:
            given = request.lead
            if given.email and not lead.email:
                raise InvalidArgument("lead.email is not a valid address", reason="INVALID_EMAIL")
            raise InvalidArgument(
                "a lead needs an email, a name with a company, a company domain or name, or a LinkedIn URL",
                reason="LEAD_UNIDENTIFIABLE",
            )
        options = _request(request.options, context)
        results = await self.lookup.lookup(
            request.account_id, [lead], options, list(request.options.provider_order)
        )
        return _message(pb.LookupResponse, {"result": _result(results[0], _Sources())})

    async def LookupBatch(self, request: pb.LookupBatchRequest, context: Context) -> pb.LookupBatchResponse:
        leads = [_lead(lead) for lead in request.leads]
        options = _request(request.options, context)
        results = await self.lookup.lookup(
            request.account_id, leads, options, list(request.options.provider_order)
        )
        sources = _Sources()
        return _message(pb.LookupBatchResponse, {"results": [_result(r, sources) for r in results]})

    async def FindContacts(
        self, request: pb.FindContactsRequest, context: Context
    ) -> pb.FindContactsResponse:
        page = await self.lookup.find_contacts(
            request.company_domain,
            request.company_name,
            _names(request.seniorities, _SENIORITY_NAME, "seniority"),
            _names(request.departments, _DEPARTMENT_NAME, "department"),
            request.page_size,
            request.page_token,
        )
        sources = _Sources()
        response: dict[str, Any] = {
            "contacts": [_fields(c, _STRING_PERSON, sources) for c in page.contacts],
            "next_page_token": page.next_page_token,
        }
        if page.company:
            response["company"] = _fields(page.company, _STRING_COMPANY, sources)
        return _message(pb.FindContactsResponse, response)
