"""ProvidersService over gRPC: proto in, domain call, proto out."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from google.protobuf.message import Message

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument
from libs.leads import DEFAULT_CONTACTS, MAX_CONTACTS
from libs.normalize import Department, Seniority
from services.providers.domain.fields import lead_from_input
from services.providers.domain.models import FieldGroup, Lead
from services.providers.domain.waterfall import DEFAULT_GROUPS, LookupRequest
from services.providers.lookup import ProviderLookup
from services.providers.wire import Convert, Encoder, RecordKind

__all__ = ["ProvidersServicer"]

Context = Any

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


def _enum(numbers: dict[str, int]) -> Convert:
    def convert(value: Any) -> int:
        return numbers.get(str(value), 0)

    return convert


def _strings(values: Any) -> list[str]:
    return [str(v) for v in values]


def _kind(message: type[Message], strings: frozenset[str]) -> RecordKind:
    """A record's fields as the message has them: strings, enums from their names, the employee
    count and the technologies; anything else is left out."""
    convert: dict[str, Convert] = dict.fromkeys(strings, str)
    convert.update({name: _enum(numbers) for name, numbers in _CONVERT.items() if name not in strings})
    convert.setdefault("employee_count", int)
    convert.setdefault("technologies", _strings)
    return RecordKind(message, convert)


_PERSON = _kind(common.Person, _STRING_PERSON)
_COMPANY = _kind(common.Company, _STRING_COMPANY)


def _encoder() -> Encoder:
    return Encoder(_PERSON, _COMPANY)


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
        max_contacts=min(options.max_contacts or DEFAULT_CONTACTS, MAX_CONTACTS),
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
        return _encoder().single_response(results[0])

    async def LookupBatch(self, request: pb.LookupBatchRequest, context: Context) -> pb.LookupBatchResponse:
        leads = [_lead(lead) for lead in request.leads]
        options = _request(request.options, context)
        results = await self.lookup.lookup(
            request.account_id, leads, options, list(request.options.provider_order)
        )
        return _encoder().batch_response(results)

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
        return _encoder().contacts_response(page.company, page.contacts, page.next_page_token)
