"""Responses built from serialized parts (services.providers.wire) equal the same messages built
field by field, and the directory reads keyed by id find what the field queries found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from libs.mongo import Document
from libs.normalize import company_key, person_name_key
from services.providers.domain.models import Attempt, FieldSource, LookupResult, Outcome, Record
from services.providers.repository import DirectoryRepository, company_document, person_document
from services.providers.servicer import _encoder
from tests.services.providers.support import serve

SEEN = datetime(2025, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
DIRECTORY = FieldSource("directory", 0.99, SEEN)
VENDOR = FieldSource("vendor", 0.8123, SEEN + timedelta(days=400))
NAIVE = FieldSource("naive", 0.9, datetime(2024, 1, 2, 3, 4, 5, 6000))


def _source(source: FieldSource) -> common.FieldSource:
    stamp = Timestamp()
    stamp.FromDatetime(source.observed_at)
    return common.FieldSource(provider=source.provider, confidence=source.confidence, observed_time=stamp)


def _record(values: dict[str, object], sources: dict[str, FieldSource]) -> Record:
    return Record(values, sources)


def _contacts() -> list[Record]:
    return [
        _record(
            {"first_name": "Ana", "last_name": "Lopez", "seniority": "c_level", "department": "executive"},
            {
                "first_name": DIRECTORY,
                "last_name": DIRECTORY,
                "seniority": DIRECTORY,
                "department": DIRECTORY,
            },
        ),
        _record({"email": "tom@techflow.io", "title": "x" * 20000}, {"email": NAIVE, "title": NAIVE}),
    ]


def _results() -> list[LookupResult]:
    person = _record(
        {
            "first_name": "Mike",
            "last_name": "Chen",
            "email": "mike.chen@techflow.io",
            "seniority": "director",
            "department": "no such department",
            "phone": "+16505550173",
            "nickname": "left out: Person has no such field",
        },
        {
            "first_name": DIRECTORY,
            "last_name": DIRECTORY,
            "email": VENDOR,
            "seniority": DIRECTORY,
            "department": DIRECTORY,
            "phone": VENDOR,
            "nickname": DIRECTORY,
        },
    )
    company = _record(
        {
            "name": "TechFlow",
            "domain": "techflow.io",
            "size": "51-200",
            "employee_count": 120,
            "revenue": "$10M-$25M",
            "technologies": ["HubSpot", "Salesforce"],
        },
        dict.fromkeys(("name", "domain", "size", "employee_count", "revenue", "technologies"), DIRECTORY),
    )
    contacts = _contacts()
    attempts = [
        Attempt("directory", Outcome.MATCHED, 0.0123),
        Attempt("vendor", Outcome.ERROR, 1.5, "HTTP_500"),
        Attempt("other", Outcome.SKIPPED),
    ]
    only_unknown = _record({"nickname": "x"}, {"nickname": DIRECTORY})
    return [
        LookupResult(True, person, company, [], 2, 1, 0.9312, attempts),
        LookupResult(True, Record(), company, contacts, 1, 1, 0.99, attempts[:1]),
        LookupResult(True, Record(), company, contacts, 1, 1, 0.99, attempts[:1]),
        LookupResult(False, Record(), Record(), [], 1, 0, 0.0, attempts[2:]),
        LookupResult(False, only_unknown, Record(), [], 0, 0, 0.0, []),
    ]


_STRING = {
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
    "name",
    "domain",
    "industry",
}


def _expected_record(record: Record, kind: type[common.Person] | type[common.Company]) -> Any:
    """The message built the plain way: one field and one FieldSource message at a time."""
    message: Any = kind()
    fields = kind.DESCRIPTOR.fields_by_name
    for name, value in record.values.items():
        if name not in fields:
            continue
        if name in ("seniority", "department"):
            enum = common.Seniority if name == "seniority" else common.Department
            label = f"{name.upper()}_{str(value).upper()}"
            setattr(message, name, enum.Value(label) if label in enum.keys() else 0)
        elif name == "size":
            message.size = common.COMPANY_SIZE_51_200
        elif name == "revenue":
            message.revenue = common.REVENUE_RANGE_10M_25M
        elif name == "technologies":
            message.technologies.extend(str(t) for t in value)
        elif name == "employee_count":
            message.employee_count = int(str(value))
        else:
            assert name in _STRING
            setattr(message, name, str(value))
        message.field_sources[name].CopyFrom(_source(record.sources[name]))
    return message


def _expected(result: LookupResult) -> pb.LookupResult:
    message = pb.LookupResult(
        found=result.found,
        providers_queried=result.providers_queried,
        providers_matched=result.providers_matched,
        confidence=result.confidence,
    )
    if result.person:
        message.person.CopyFrom(_expected_record(result.person, common.Person))
    if result.company:
        message.company.CopyFrom(_expected_record(result.company, common.Company))
    for contact in result.contacts:
        message.contacts.add().CopyFrom(_expected_record(contact, common.Person))
    for attempt in result.attempts:
        added = message.attempts.add(provider=attempt.provider, reason=attempt.reason)
        added.outcome = pb.ProviderAttempt.Outcome.Value(f"OUTCOME_{attempt.outcome.name}")
        added.duration.FromNanoseconds(int(attempt.duration * 1e9))
    return message


def test_encoded_results_equal_messages_built_field_by_field() -> None:
    results = _results()
    response = _encoder().batch_response(results)
    assert response == pb.LookupBatchResponse(results=[_expected(r) for r in results])
    # Presence is kept: a matched record with no field the message has is an empty message; no
    # record, no message; an attempt without a duration still has one (zero).
    assert response.results[4].HasField("person") and response.results[4].person.ByteSize() == 0
    assert not response.results[3].HasField("person") and not response.results[3].HasField("company")
    assert response.results[3].attempts[0].HasField("duration")
    assert response.results[1].contacts[1].title == "x" * 20000
    assert (
        response.results[0].person.field_sources["email"].observed_time.ToDatetime(UTC) == VENDOR.observed_at
    )
    naive = response.results[1].contacts[1].field_sources["email"].observed_time
    assert naive.ToDatetime() == NAIVE.observed_at
    single = _encoder().single_response(results[0])
    assert single == pb.LookupResponse(result=_expected(results[0]))
    page = _encoder().contacts_response(results[0].company, _contacts(), "token")
    assert page == pb.FindContactsResponse(
        company=_expected_record(results[0].company, common.Company),
        contacts=[_expected_record(c, common.Person) for c in _contacts()],
        next_page_token="token",
    )


@pytest.mark.parametrize("point_queries", [0, 32])
async def test_a_person_whose_company_domain_has_no_record_gets_the_company_named(
    db: AsyncDatabase[Document], point_queries: int
) -> None:
    """Emails and domains are read by id; a company no domain finds is still found by name."""
    repository = DirectoryRepository(db)
    await repository.ensure_indexes()
    key = company_key("Umbrella")
    await repository.insert_companies(
        [
            company_document({"name": "Umbrella", "industry": "Biotechnology"}, "test", key),
            company_document({"name": "Hooli", "domain": "hooli.com"}, "test", company_key("Hooli")),
        ]
    )
    alice = {"first_name": "Alice", "last_name": "Wong", "email": "alice@umbrella-corp.com"}
    await repository.insert_people(
        [
            person_document(
                alice,
                {"name": "Umbrella", "domain": "umbrella-corp.com"},
                "test",
                person_name_key("Alice", "Wong"),
                key,
            ),
            person_document(
                {"first_name": "Gavin", "last_name": "Belson", "email": "gavin@hooli.com"},
                {"name": "Hooli", "domain": "hooli.com"},
                "test",
                person_name_key("Gavin", "Belson"),
                company_key("Hooli"),
            ),
        ]
    )
    leads = [
        common.LeadInput(full_name="Alice Wong", company_name="Umbrella"),
        common.LeadInput(email="ALICE@umbrella-corp.com"),
        common.LeadInput(email="gavin@hooli.com"),
        common.LeadInput(email="nobody@hooli.com"),
        common.LeadInput(company_domain="www.hooli.com"),
        common.LeadInput(company_domain="umbrella-corp.com"),
    ]
    async with serve(db, providers_directory_point_queries=point_queries) as stub:
        response = await stub.LookupBatch(pb.LookupBatchRequest(leads=leads), timeout=30)
    by_name, by_email, gavin, nobody, hooli, umbrella = response.results
    assert by_name.found and by_name.person.email == "alice@umbrella-corp.com"
    assert by_name.company.name == "Umbrella" and by_name.company.industry == "Biotechnology"
    assert by_email.found and by_email.person.first_name == "Alice"
    # Found by the email's domain: no company record, so only what the person says of it.
    assert by_email.company.domain == "umbrella-corp.com" and not by_email.company.industry
    assert gavin.found and gavin.company.name == "Hooli" and gavin.company.domain == "hooli.com"
    assert not nobody.found and nobody.company.name == "Hooli"
    assert hooli.found and [c.email for c in hooli.contacts] == []
    assert not umbrella.found
