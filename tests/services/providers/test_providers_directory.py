"""Lookup, LookupBatch and FindContacts over gRPC against the directory on the embedded store."""

from __future__ import annotations

import grpc
import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.errors import error_from_rpc
from libs.mongo import Document
from services.providers.repository import DirectoryRepository
from tests.services.providers.support import load_directory, serve

Stub = pb_grpc.ProvidersServiceStub
MATCHED = pb.ProviderAttempt.OUTCOME_MATCHED


async def lookup(stub: Stub, **lead: str) -> pb.LookupResult:
    response = await stub.Lookup(
        pb.LookupRequest(account_id="acct_1", lead=common.LeadInput(**lead)), timeout=10
    )
    return response.result


async def test_lookup_by_email_returns_the_person_and_company_with_provenance(providers: Stub) -> None:
    result = await lookup(providers, email="  MIKE.CHEN@techflow.io ")
    assert result.found
    person, company = result.person, result.company
    assert (person.first_name, person.last_name, person.email) == ("Mike", "Chen", "mike.chen@techflow.io")
    assert person.title == "Senior Director of Revenue Operations"
    assert person.raw_title == "Sr. Dir. RevOps"
    assert person.seniority == common.SENIORITY_DIRECTOR
    assert person.department == common.DEPARTMENT_REVENUE_OPERATIONS
    assert person.phone == "+16505550173"
    assert person.linkedin_url == "https://www.linkedin.com/in/mike-chen-techflow"
    assert (company.name, company.domain, company.industry) == ("TechFlow", "techflow.io", "SaaS")
    assert company.size == common.COMPANY_SIZE_51_200
    assert company.revenue == common.REVENUE_RANGE_10M_25M
    source = person.field_sources["title"]
    assert source.provider == "directory" and source.confidence >= 0.9
    assert source.observed_time.seconds > 0
    assert company.field_sources["industry"].provider == "directory"
    assert (result.providers_queried, result.providers_matched) == (1, 1)
    assert result.confidence >= 0.9
    assert [(a.provider, a.outcome) for a in result.attempts] == [("directory", MATCHED)]


@pytest.mark.parametrize(
    "lead",
    [
        {"first_name": "Michael", "last_name": "CHEN", "company_name": "TechFlow Inc"},
        {"full_name": "Chen, Mike", "company_domain": "https://techflow.io/pricing"},
        {"linkedin_url": "http://www.linkedin.com/in/Mike-Chen-TechFlow?trk=x"},
    ],
)
async def test_other_identifiers_find_the_same_person(providers: Stub, lead: dict[str, str]) -> None:
    result = await lookup(providers, **lead)
    assert result.found
    assert result.person.email == "mike.chen@techflow.io"
    assert result.company.domain == "techflow.io"


async def test_a_name_two_people_share_is_not_a_match(providers: Stub) -> None:
    result = await lookup(providers, first_name="John", last_name="Smith", company_name="Globex")
    assert not result.found
    assert not result.person.email
    assert result.attempts[0].outcome == pb.ProviderAttempt.OUTCOME_LOW_CONFIDENCE
    assert result.confidence == 0.0


async def test_an_unknown_lead_is_not_found(providers: Stub) -> None:
    result = await lookup(providers, email="nobody@nowhere-at-all.com")
    assert not result.found
    assert result.providers_queried == 1 and result.providers_matched == 0
    assert result.attempts[0].outcome == pb.ProviderAttempt.OUTCOME_NO_MATCH


async def test_a_company_lead_returns_the_company_and_its_most_senior_people(providers: Stub) -> None:
    request = pb.LookupRequest(
        lead=common.LeadInput(company_domain="www.techflow.io"), options=pb.LookupOptions(max_contacts=3)
    )
    result = (await providers.Lookup(request, timeout=10)).result
    assert result.found
    assert result.company.name == "TechFlow"
    assert [c.email for c in result.contacts] == [
        "ana@techflow.io",
        "lena@techflow.io",
        "mike.chen@techflow.io",
    ]
    assert result.contacts[0].seniority == common.SENIORITY_OWNER
    assert result.contacts[0].field_sources["email"].provider == "directory"


async def test_a_company_found_by_name_alone(providers: Stub) -> None:
    result = await lookup(providers, company_name="GLOBEX CORP.")
    assert result.found
    assert (result.company.domain, result.company.industry) == ("globex.com", "Manufacturing")
    assert result.company.size == common.COMPANY_SIZE_10001_PLUS
    assert result.company.revenue == common.REVENUE_RANGE_1B_PLUS
    assert {c.email for c in result.contacts} == {"john.smith@globex.com", "jsmith2@globex.com"}


async def test_a_lead_without_an_identifier_is_invalid(providers: Stub) -> None:
    for lead in (common.LeadInput(first_name="Mike"), common.LeadInput(email="not-an-email")):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await providers.Lookup(pb.LookupRequest(lead=lead), timeout=10)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_from_rpc(raised.value).reason in {"LEAD_UNIDENTIFIABLE", "INVALID_EMAIL"}


async def test_an_unknown_provider_in_the_order_is_invalid(providers: Stub) -> None:
    request = pb.LookupRequest(
        lead=common.LeadInput(email="ana@techflow.io"), options=pb.LookupOptions(provider_order=["nope"])
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await providers.Lookup(request, timeout=10)
    assert error_from_rpc(raised.value).reason == "UNKNOWN_PROVIDER"


async def test_lookup_batch_answers_in_request_order(providers: Stub) -> None:
    leads = [
        common.LeadInput(email="raj@techflow.io"),
        common.LeadInput(first_name="Mike"),
        common.LeadInput(company_domain="globex.com"),
        common.LeadInput(email="ghost@techflow.io"),
        common.LeadInput(full_name="Priya Nair", company_name="Initech"),
    ]
    response = await providers.LookupBatch(pb.LookupBatchRequest(account_id="a", leads=leads), timeout=10)
    results = response.results
    assert len(results) == 5
    assert results[0].found and results[0].person.department == common.DEPARTMENT_ENGINEERING
    assert not results[1].found and results[1].providers_queried == 0
    assert results[2].found and results[2].company.name == "Globex"
    assert not results[3].found
    assert results[3].company.domain == "techflow.io", "the company of an unknown person is still returned"
    assert results[4].found and results[4].person.seniority == common.SENIORITY_VP


class _FindCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.finds += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_batch_costs_a_handful_of_queries_not_one_per_lead(
    db: AsyncDatabase[Document], mongo_uri: str
) -> None:
    def word(i: int) -> str:
        return "".join(chr(97 + int(d)) for d in str(i))

    rows = [
        {
            "First Name": f"Jo{word(i)}",
            "Last Name": f"Mc{word(i)}",
            "Email": f"p{i}@co{i % 80}.com",
            "Title": "Sales Manager",
            "Company": f"Company {i % 80}",
            "Website": f"co{i % 80}.com",
        }
        for i in range(300)
    ]
    await load_directory(db, rows)
    counter = _FindCounter()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_uri, tz_aware=True, event_listeners=[counter])
    leads = [common.LeadInput(email=f"p{i}@co{i % 80}.com") for i in range(100)]
    leads += [
        common.LeadInput(full_name=f"Jo{word(i)} Mc{word(i)}", company_name=f"Company {i % 80}")
        for i in range(100, 200)
    ]
    leads += [common.LeadInput(company_domain=f"co{i}.com") for i in range(60)]
    try:
        # One $in per kind of key...
        async with serve(client[db.name], providers_directory_point_queries=0) as stub:
            counter.finds = 0
            response = await stub.LookupBatch(pb.LookupBatchRequest(leads=leads), timeout=30)
            assert all(r.found for r in response.results)
            assert counter.finds <= 8, f"{counter.finds} queries for {len(leads)} leads"
        # ... or, for a kind with few keys, an equality query per key (indexed on every store).
        async with serve(client[db.name]) as stub:
            counter.finds = 0
            response = await stub.LookupBatch(pb.LookupBatchRequest(leads=leads), timeout=30)
            assert all(r.found for r in response.results)
            assert counter.finds <= 8 + 32, f"{counter.finds} queries for {len(leads)} leads"
    finally:
        await client.close()


async def test_a_company_is_read_once_per_ttl_and_changes_are_seen_after_it(
    db: AsyncDatabase[Document], mongo_uri: str
) -> None:
    """The directory's company cache, on a clock the test moves; the service's lookups use it (the
    test below)."""
    await load_directory(db)
    counter = _FindCounter()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_uri, tz_aware=True, event_listeners=[counter])
    now = [1000.0]
    repository = DirectoryRepository(client[db.name], company_ttl=2.0, clock=lambda: now[0])

    async def name() -> str:
        [company] = await repository.companies_by("domain", ["techflow.io"], contacts=False)
        return str(company["name"])

    try:
        assert await name() == "TechFlow"
        assert counter.finds == 1
        # Another process (an import) renames the company: seen once the TTL has passed.
        await db["providers_companies"].update_one(
            {"_id": "techflow.io"}, {"$set": {"name": "TechFlow Labs"}}
        )
        now[0] += 1.9
        assert await name() == "TechFlow"
        assert counter.finds == 1, "the company came from the process's cache"
        now[0] += 0.1
        assert await name() == "TechFlow Labs"
        assert counter.finds == 2
    finally:
        await client.close()


async def test_lookups_read_a_company_once_per_ttl_of_the_setting(
    db: AsyncDatabase[Document], mongo_uri: str
) -> None:
    await load_directory(db)
    counter = _FindCounter()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongo_uri, tz_aware=True, event_listeners=[counter])
    try:
        async with serve(client[db.name], providers_company_cache_ttl=60.0) as stub:
            await lookup(stub, email="nobody@globex.com")  # the account's provider order, now cached
            counter.finds = 0
            assert (await lookup(stub, email="mike.chen@techflow.io")).company.name == "TechFlow"
            cold, counter.finds = counter.finds, 0
            assert (await lookup(stub, email="raj@techflow.io")).company.name == "TechFlow"
            assert counter.finds == cold - 1, "the company came from the process's cache"
            await db["providers_companies"].update_one(
                {"_id": "techflow.io"}, {"$set": {"name": "TechFlow Labs"}}
            )
            assert (await lookup(stub, email="mike.chen@techflow.io")).company.name == "TechFlow"
        async with serve(client[db.name], providers_company_cache_ttl=0) as stub:
            await lookup(stub, email="nobody@globex.com")
            counter.finds = 0
            await lookup(stub, email="mike.chen@techflow.io")
            cold, counter.finds = counter.finds, 0
            await lookup(stub, email="mike.chen@techflow.io")
            assert counter.finds == cold, "a TTL of 0 keeps nothing"
    finally:
        await client.close()


async def test_find_contacts_pages_through_a_company(providers: Stub) -> None:
    emails: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await providers.FindContacts(
            pb.FindContactsRequest(company_domain="techflow.io", page_size=2, page_token=token), timeout=10
        )
        pages += 1
        assert page.company.name == "TechFlow"
        emails += [c.email for c in page.contacts]
        token = page.next_page_token
        if not token:
            break
    assert pages == 3
    assert emails == [
        "ana@techflow.io",
        "lena@techflow.io",
        "mike.chen@techflow.io",
        "tom@techflow.io",
        "raj@techflow.io",
    ]


async def test_find_contacts_filters_by_seniority_and_department(providers: Stub) -> None:
    page = await providers.FindContacts(
        pb.FindContactsRequest(
            company_name="TechFlow Inc.",
            seniorities=[common.SENIORITY_DIRECTOR, common.SENIORITY_VP],
            departments=[common.DEPARTMENT_MARKETING, common.DEPARTMENT_REVENUE_OPERATIONS],
        ),
        timeout=10,
    )
    assert [c.email for c in page.contacts] == ["lena@techflow.io", "mike.chen@techflow.io"]
    assert not page.next_page_token


async def test_find_contacts_errors(providers: Stub) -> None:
    cases = [
        (pb.FindContactsRequest(company_domain="unknown-company.com"), "COMPANY_NOT_FOUND"),
        (pb.FindContactsRequest(), "COMPANY_REQUIRED"),
        (pb.FindContactsRequest(company_domain="techflow.io", page_token="garbage"), "INVALID_PAGE_TOKEN"),
    ]
    for request, reason in cases:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await providers.FindContacts(request, timeout=10)
        assert error_from_rpc(raised.value).reason == reason
