"""ProvidersService over gRPC: proto in, domain call, proto out."""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from google.protobuf.message import Message

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument
from libs.leads import DEFAULT_CONTACTS, FIELD_GROUPS, MAX_CONTACTS
from libs.mongo import Document
from libs.protos import require_account, timestamp
from libs.vocabulary import CompanySize, Department, RevenueRange, Seniority, from_proto, to_proto
from services.providers.domain.fields import lead_from_input
from services.providers.domain.models import COMPANY_FIELDS, PERSON_FIELDS, FieldGroup, Lead
from services.providers.domain.waterfall import DEFAULT_GROUPS, LookupRequest
from services.providers.lookup import ProviderLookup
from services.providers.privacy import ErasureAudit
from services.providers.sandbox import sandbox_lookup
from services.providers.suppressions import SuppressionList
from services.providers.wire import Convert, Encoder, RecordKind

__all__ = ["ProvidersServicer"]

Context = Any

_GROUPS = {number: FieldGroup(name) for name, number in FIELD_GROUPS.items()}


def _enum(vocabulary: type[StrEnum]) -> Convert:
    numbers = {member.value: to_proto(member) for member in vocabulary}

    def convert(value: Any) -> int:
        return numbers.get(str(value), 0)

    return convert


def _strings(values: Any) -> list[str]:
    return [str(v) for v in values]


def _kind(message: type[Message], fields: Iterable[str]) -> RecordKind:
    """A record's fields as the message has them: enums from their names, the employee count
    and the technologies; the rest are strings."""
    return RecordKind(message, {name: _CONVERT.get(name, str) for name in fields})


_CONVERT: dict[str, Convert] = {
    "seniority": _enum(Seniority),
    "department": _enum(Department),
    "size": _enum(CompanySize),
    "revenue": _enum(RevenueRange),
    "employee_count": int,
    "technologies": _strings,
}
_PERSON = _kind(common.Person, PERSON_FIELDS)
_COMPANY = _kind(common.Company, COMPANY_FIELDS)


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


def _names(values: Iterable[int], vocabulary: type[StrEnum], what: str) -> list[str]:
    out = []
    for value in values:
        member = from_proto(vocabulary, value)
        if member is None:
            raise InvalidArgument(f"unknown {what} {value}", reason=f"INVALID_{what.upper()}")
        out.append(member.value)
    return out


_KINDS = {"email": pb.Suppression.KIND_EMAIL, "domain": pb.Suppression.KIND_DOMAIN}


def _suppression(document: Document) -> pb.Suppression:
    return pb.Suppression(
        id=document["_id"],
        kind=_KINDS.get(document["kind"], pb.Suppression.KIND_UNSPECIFIED),
        display=document.get("display", ""),
        create_time=timestamp(document["create_time"]),
    )


class ProvidersServicer(pb_grpc.ProvidersServiceServicer):
    def __init__(
        self,
        lookup: ProviderLookup,
        suppressions: SuppressionList | None = None,
        audit: ErasureAudit | None = None,
    ):
        self.lookup = lookup
        self.suppressions = suppressions
        self.audit = audit

    async def _lookup(self, options: pb.LookupOptions) -> ProviderLookup:
        """The sandbox's lookup for a test-mode call (no vendor, no cache), else the service's."""
        return await sandbox_lookup() if options.sandbox else self.lookup

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
        lookup = await self._lookup(request.options)
        results = await lookup.lookup(
            request.account_id, [lead], options, list(request.options.provider_order)
        )
        return _encoder().single_response(results[0])

    async def LookupBatch(self, request: pb.LookupBatchRequest, context: Context) -> pb.LookupBatchResponse:
        leads = [_lead(lead) for lead in request.leads]
        options = _request(request.options, context)
        lookup = await self._lookup(request.options)
        results = await lookup.lookup(
            request.account_id, leads, options, list(request.options.provider_order)
        )
        return _encoder().batch_response(results)

    async def FindContacts(
        self, request: pb.FindContactsRequest, context: Context
    ) -> pb.FindContactsResponse:
        page = await self.lookup.find_contacts(
            request.company_domain,
            request.company_name,
            _names(request.seniorities, Seniority, "seniority"),
            _names(request.departments, Department, "department"),
            request.page_size,
            request.page_token,
            request.account_id,
        )
        return _encoder().contacts_response(page.company, page.contacts, page.next_page_token)

    async def AddSuppressions(
        self, request: pb.AddSuppressionsRequest, context: Context
    ) -> pb.AddSuppressionsResponse:
        require_account(request.account_id)
        assert self.suppressions is not None
        documents, added = await self.suppressions.add(
            request.account_id, list(request.emails), list(request.domains)
        )
        return pb.AddSuppressionsResponse(
            suppressions=[_suppression(d) for d in documents], added_count=added
        )

    async def ListSuppressions(
        self, request: pb.ListSuppressionsRequest, context: Context
    ) -> pb.ListSuppressionsResponse:
        require_account(request.account_id)
        assert self.suppressions is not None
        page = await self.suppressions.page(request.account_id, request.page_size, request.page_token)
        return pb.ListSuppressionsResponse(
            suppressions=[_suppression(d) for d in page.suppressions], next_page_token=page.next_page_token
        )

    async def DeleteSuppression(
        self, request: pb.DeleteSuppressionRequest, context: Context
    ) -> pb.DeleteSuppressionResponse:
        require_account(request.account_id)
        assert self.suppressions is not None
        await self.suppressions.delete(request.account_id, request.id)
        return pb.DeleteSuppressionResponse()

    async def RecordErasure(
        self, request: pb.RecordErasureRequest, context: Context
    ) -> pb.RecordErasureResponse:
        if not request.erasure_id:
            raise InvalidArgument("erasure_id is required", reason="ERASURE_ID_REQUIRED")
        assert self.audit is not None
        erased = [
            {"service": e.service, "collection": e.collection, "items": e.items} for e in request.erased
        ]
        when = await self.audit.record(
            request.erasure_id, request.operator, list(request.subject_hashes), erased, request.complete
        )
        return pb.RecordErasureResponse(record_time=timestamp(when))
