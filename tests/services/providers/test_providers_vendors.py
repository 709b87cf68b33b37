"""The waterfall over the directory and loopback vendors: provenance, order, stopping early, and
every failure mode (slow, 500, 429 + Retry-After, malformed JSON, partial data, wrong person)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.embedded_store import free_port
from libs.mongo import Document
from services.providers.repository import DirectoryRepository
from tests.services.providers.fake_vendors import ENRICH, JANE, FakeVendors, running_vendors, vendor_config
from tests.services.providers.support import load_directory, serve

Stub = pb_grpc.ProvidersServiceStub
Outcome = pb.ProviderAttempt


@pytest_asyncio.fixture
async def vendors() -> AsyncIterator[FakeVendors]:
    async with running_vendors() as fake:
        fake.people["jane.doe@initech.com"] = (8, JANE)
        fake.people["jane doe|initech.com"] = (8, JANE)
        fake.finder[("initech.com", "jane", "doe")] = ("jane.doe@initech.com", 91)
        fake.finder[("initech.com", "bob", "guess")] = ("b.guess@initech.com", 40)
        yield fake


def attempts(result: pb.LookupResult) -> list[tuple[str, int, str]]:
    return [(a.provider, a.outcome, a.reason) for a in result.attempts]


async def lookup(
    stub: Stub, options: pb.LookupOptions | None = None, timeout: float = 10, **lead: str
) -> pb.LookupResult:
    request = pb.LookupRequest(account_id="acct_1", lead=common.LeadInput(**lead), options=options)
    return (await stub.Lookup(request, timeout=timeout)).result


async def test_a_vendor_finds_who_the_directory_does_not_know(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    await load_directory(db)
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        result = await lookup(stub, email="Jane.Doe@initech.com")
    assert result.found
    assert (result.person.full_name, result.person.title) == ("Jane Doe", "Vice President of Sales")
    assert result.person.seniority == common.SENIORITY_VP
    assert result.person.phone == "+14155550100"
    assert (result.company.domain, result.company.industry) == ("initech.com", "Software")
    assert result.company.size == common.COMPANY_SIZE_201_500
    assert result.person.field_sources["title"].provider == "people_vendor"
    assert result.person.field_sources["title"].confidence == pytest.approx(0.8)
    assert attempts(result)[:2] == [
        ("directory", Outcome.OUTCOME_NO_MATCH, ""),
        ("people_vendor", Outcome.OUTCOME_MATCHED, ""),
    ]
    assert (result.providers_queried, result.providers_matched) == (2, 1)


async def test_later_providers_only_fill_what_is_missing(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    await load_directory(
        db,
        [
            {
                "Email": "jane.doe@initech.com",
                "Name": "Jane Doe",
                "Title": "Head of Sales",
                "Company": "Initech",
                "Website": "initech.com",
                "Industry": "SaaS",
                "Employees": 300,
            }
        ],
    )
    options = pb.LookupOptions(fields=[common.FIELD_GROUP_PERSON, common.FIELD_GROUP_PHONE])
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        result = await lookup(stub, options, email="jane.doe@initech.com")
    assert result.person.title == "Head of Sales"
    assert result.person.field_sources["title"].provider == "directory"
    assert result.person.phone == "+14155550100"
    assert result.person.field_sources["phone"].provider == "people_vendor"
    assert vendors.count(ENRICH) == 1


async def test_the_waterfall_stops_once_everything_asked_for_is_filled(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    await load_directory(db)
    async with serve(db, vendor_config(vendors.url)) as stub:
        result = await lookup(stub, email="mike.chen@techflow.io")
    assert result.found and result.providers_queried == 1
    assert [a.outcome for a in result.attempts[1:]] == [Outcome.OUTCOME_SKIPPED] * 3
    assert sum(len(calls) for calls in vendors.calls.values()) == 0


async def test_order_is_cheapest_first_and_can_be_overridden(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    await load_directory(db)
    async with serve(db, vendor_config(vendors.url)) as stub:
        result = await lookup(stub, email="nobody@initech.com")
        assert [a.provider for a in result.attempts] == ["directory", "finder", "generic", "people_vendor"]
        options = pb.LookupOptions(provider_order=["people_vendor", "generic"])
        result = await lookup(stub, options, email="nobody@initech.com")
        assert [a.provider for a in result.attempts] == ["directory", "people_vendor", "generic"]
    # An account's own order (kept in-process for a few seconds once read).
    await DirectoryRepository(db).set_provider_order("acct_1", ["generic"])
    async with serve(db, vendor_config(vendors.url)) as stub:
        result = await lookup(stub, email="nobody@initech.com")
        assert [a.provider for a in result.attempts] == ["directory", "generic"]


async def test_429_is_retried_after_what_retry_after_says(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    vendors.fail(ENRICH, "429")
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        started = time.monotonic()
        result = await lookup(stub, email="jane.doe@initech.com")
    assert result.found
    assert vendors.count(ENRICH) == 2
    assert time.monotonic() - started >= 0.2


async def test_a_retry_after_beyond_the_limit_is_not_waited_for(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    vendors.fail(ENRICH, "429-long")
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        result = await lookup(stub, email="jane.doe@initech.com", timeout=5)
    assert ("people_vendor", Outcome.OUTCOME_ERROR, "RATE_LIMITED") in attempts(result)
    assert vendors.count(ENRICH) == 1


@pytest.mark.parametrize(
    ("mode", "outcome", "reason"),
    [
        ("500", Outcome.OUTCOME_ERROR, "HTTP_500"),
        ("malformed", Outcome.OUTCOME_ERROR, "MALFORMED_RESPONSE"),
        ("slow", Outcome.OUTCOME_TIMEOUT, "TIMEOUT"),
    ],
)
async def test_a_failing_vendor_costs_confidence_not_the_answer(
    db: AsyncDatabase[Document], vendors: FakeVendors, mode: str, outcome: int, reason: str
) -> None:
    await load_directory(db)
    options = pb.LookupOptions(fields=[common.FIELD_GROUP_PERSON, common.FIELD_GROUP_LINKEDIN])
    config = vendor_config(vendors.url, order=["people_vendor"], people_vendor={"timeout": 0.3})
    async with serve(db, config) as stub:
        healthy = await lookup(
            stub, options, first_name="Ana", last_name="Lopez", company_domain="techflow.io"
        )
        vendors.fail(ENRICH, mode)
        failing = await lookup(
            stub, options, first_name="Ana", last_name="Lopez", company_domain="techflow.io"
        )
    assert healthy.found and failing.found
    assert failing.person.email == "ana@techflow.io"
    assert ("people_vendor", outcome, reason) in attempts(failing)
    assert failing.confidence == pytest.approx(healthy.confidence * 0.9)


async def test_partial_data_fills_what_it_has(db: AsyncDatabase[Document], vendors: FakeVendors) -> None:
    vendors.fail(ENRICH, "partial")
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        result = await lookup(stub, email="jane.doe@initech.com")
    assert result.found
    assert (result.person.first_name, result.person.last_name, result.person.title) == ("Jane", "Doe", "")
    assert not result.company.domain
    assert result.confidence < 0.5, "most of what was asked for is missing"


async def test_a_confident_wrong_person_is_not_a_match(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    vendors.fail(ENRICH, "wrong_person")
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        result = await lookup(stub, first_name="Jane", last_name="Doe", company_domain="initech.com")
    assert not result.found
    assert not result.person.full_name and not result.person.email
    assert ("people_vendor", Outcome.OUTCOME_LOW_CONFIDENCE, "IDENTITY_MISMATCH") in attempts(result)


async def test_a_match_below_the_threshold_is_not_found(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    vendors.people["maybe@initech.com"] = (7, {**JANE, "work_email": "maybe@initech.com"})
    config = vendor_config(vendors.url, order=["people_vendor"], people_vendor={"min_likelihood": 2})
    async with serve(db, config) as stub:
        result = await lookup(stub, email="maybe@initech.com")
    assert not result.found
    assert ("people_vendor", Outcome.OUTCOME_LOW_CONFIDENCE, "BELOW_THRESHOLD") in attempts(result)


async def test_the_circuit_opens_after_repeated_failures(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    vendors.always(ENRICH, "500")
    config = vendor_config(
        vendors.url,
        order=["people_vendor"],
        people_vendor={"concurrency": 1, "breaker_failures": 3, "breaker_cooldown": 60},
    )
    leads = [common.LeadInput(email=f"person{i}@initech.com") for i in range(6)]
    async with serve(db, config) as stub:
        response = await stub.LookupBatch(pb.LookupBatchRequest(leads=leads), timeout=10)
        later = await lookup(stub, email="jane.doe@initech.com")
    outcomes = [r.attempts[1].outcome for r in response.results]
    assert outcomes == [Outcome.OUTCOME_ERROR] * 3 + [Outcome.OUTCOME_CIRCUIT_OPEN] * 3
    assert ("people_vendor", Outcome.OUTCOME_CIRCUIT_OPEN, "CIRCUIT_OPEN") in attempts(later)
    assert vendors.count(ENRICH) == 3


async def test_the_email_finder_scores_the_address_it_guesses(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    options = pb.LookupOptions(fields=[common.FIELD_GROUP_EMAIL])
    async with serve(db, vendor_config(vendors.url, order=["finder"])) as stub:
        found = await lookup(stub, options, first_name="Jane", last_name="Doe", company_domain="initech.com")
        unsure = await lookup(
            stub, options, first_name="Bob", last_name="Guess", company_domain="initech.com"
        )
    assert found.found and found.person.email == "jane.doe@initech.com"
    assert found.person.field_sources["email"].confidence == pytest.approx(0.91)
    assert found.confidence == pytest.approx(0.91)
    assert not unsure.found
    assert ("finder", Outcome.OUTCOME_LOW_CONFIDENCE, "BELOW_THRESHOLD") in attempts(unsure)


async def test_domain_search_lists_the_contacts_of_an_unknown_company(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    vendors.domains["initech.com"] = {
        "domain": "initech.com",
        "organization": "Initech",
        "pattern": "{first}.{last}",
        "emails": [
            {"value": "info@initech.com", "type": "generic", "confidence": 99},
            {
                "value": "bill.l@initech.com",
                "type": "personal",
                "confidence": 97,
                "first_name": "Bill",
                "last_name": "Lumbergh",
                "position": "VP Operations",
            },
            {
                "value": "peter.g@initech.com",
                "type": "personal",
                "confidence": 85,
                "first_name": "Peter",
                "last_name": "Gibbons",
                "position": "Software Engineer",
            },
            {"value": "milton@initech.com", "type": "personal", "confidence": 30, "first_name": "Milton"},
        ],
    }
    async with serve(db, vendor_config(vendors.url, order=["finder"])) as stub:
        result = await lookup(stub, company_domain="initech.com")
    assert result.found and result.company.name == "Initech"
    assert [c.email for c in result.contacts] == ["bill.l@initech.com", "peter.g@initech.com"]
    assert result.contacts[0].seniority == common.SENIORITY_VP
    assert result.contacts[1].field_sources["email"].confidence == pytest.approx(0.85)


async def test_a_generic_provider_declared_in_configuration(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    vendors.generic["sam@hooli.com"] = {
        "name": {"first": "SAM", "last": "LEE"},
        "job": {"title": "Sr. PM", "company": "Hooli, Inc.", "website": "https://hooli.com", "size": 4200},
        "phones": ["+1 650 555 0199"],
        "match": {"score": 88},
    }
    async with serve(db, vendor_config(vendors.url, order=["generic"])) as stub:
        result = await lookup(stub, email="sam@hooli.com")
        missing = await lookup(stub, email="nobody@hooli.com")
    assert result.found
    assert (result.person.full_name, result.person.title) == ("Sam Lee", "Senior Product Manager")
    assert result.person.phone == "+16505550199"
    assert (result.company.name, result.company.domain, result.company.employee_count) == (
        "Hooli",
        "hooli.com",
        4200,
    )
    assert result.company.size == common.COMPANY_SIZE_1001_5000
    assert result.person.field_sources["title"].confidence == pytest.approx(0.88)
    assert result.person.field_sources["title"].provider == "generic"
    assert not missing.found
    assert ("generic", Outcome.OUTCOME_NO_MATCH, "") in attempts(missing)


@pytest.mark.parametrize("allowed_networks", [[], ["10.0.0.0/8", "::1/128"]])
async def test_private_addresses_are_refused_unless_allowed(
    db: AsyncDatabase[Document], vendors: FakeVendors, allowed_networks: list[str]
) -> None:
    config = vendor_config(vendors.url, order=["people_vendor"])
    settings = {"providers_allow_private_urls": False, "providers_allowed_networks": allowed_networks}
    async with serve(db, config, **settings) as stub:
        result = await lookup(stub, email="jane.doe@initech.com")
    assert not result.found
    assert ("people_vendor", Outcome.OUTCOME_ERROR, "FORBIDDEN_ADDRESS") in attempts(result)
    assert vendors.count(ENRICH) == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_a_vendor_inside_the_allowed_networks_is_called(
    db: AsyncDatabase[Document], vendors: FakeVendors, host: str
) -> None:
    url = vendors.url.replace("127.0.0.1", host)
    config = vendor_config(url, order=["people_vendor"])
    loopback = ["127.0.0.0/8", "::1/128"]  # localhost may resolve to ::1 as well
    settings = {"providers_allow_private_urls": False, "providers_allowed_networks": loopback}
    async with serve(db, config, **settings) as stub:
        result = await lookup(stub, email="jane.doe@initech.com")
    assert result.found and result.person.full_name == "Jane Doe"
    assert vendors.count(ENRICH) == 1


@pytest.mark.parametrize("host", ["[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]"])
async def test_ipv6_forms_of_loopback_are_refused(
    db: AsyncDatabase[Document], vendors: FakeVendors, host: str
) -> None:
    config = vendor_config(vendors.url.replace("127.0.0.1", host), order=["people_vendor"])
    async with serve(db, config, providers_allow_private_urls=False) as stub:
        result = await lookup(stub, email="jane.doe@initech.com")
    assert ("people_vendor", Outcome.OUTCOME_ERROR, "FORBIDDEN_ADDRESS") in attempts(result)
    assert vendors.count(ENRICH) == 0


async def test_proxy_environment_variables_are_ignored(
    db: AsyncDatabase[Document], vendors: FakeVendors, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{free_port()}"  # nothing listens: a call through it would fail
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_grpc_proxy", "127.0.0.1")  # the test's own channel to the service
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        result = await lookup(stub, email="jane.doe@initech.com")
    assert result.found and vendors.count(ENRICH) == 1


async def test_a_vendor_redirect_is_not_followed(db: AsyncDatabase[Document], vendors: FakeVendors) -> None:
    vendors.fail(ENRICH, "redirect")
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        result = await lookup(stub, email="jane.doe@initech.com")
    assert ("people_vendor", Outcome.OUTCOME_ERROR, "HTTP_302") in attempts(result)
    assert vendors.count(ENRICH) == 1


async def test_the_callers_deadline_bounds_a_slow_vendor(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    await load_directory(db)
    vendors.fail(ENRICH, "slow")
    config = vendor_config(vendors.url, order=["people_vendor"], people_vendor={"timeout": 30})
    options = pb.LookupOptions(fields=[common.FIELD_GROUP_PHONE, common.FIELD_GROUP_PERSON])
    async with serve(db, config) as stub:
        started = time.monotonic()
        result = await lookup(stub, options, timeout=0.8, email="ana@techflow.io")
    assert time.monotonic() - started < 0.8
    assert result.found and result.person.email == "ana@techflow.io"
    assert result.attempts[1].outcome == Outcome.OUTCOME_TIMEOUT


async def test_a_batch_asks_a_vendor_each_question_once(
    db: AsyncDatabase[Document], vendors: FakeVendors
) -> None:
    leads = [
        common.LeadInput(email=email)
        for email in ("jane.doe@initech.com", "JANE.DOE@initech.com", "x@initech.com")
    ]
    async with serve(db, vendor_config(vendors.url, order=["people_vendor"])) as stub:
        response = await stub.LookupBatch(pb.LookupBatchRequest(leads=leads), timeout=10)
    assert [r.found for r in response.results] == [True, True, False]
    assert vendors.count(ENRICH) == 2
