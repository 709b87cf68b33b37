"""GetSignals, GetSignalsBatch and Refresh over gRPC, with the loopback site as every source."""

from __future__ import annotations

import time

import grpc
import pytest

from leadmesh.common.v1 import common_pb2
from leadmesh.intent.v1 import intent_service_pb2 as pb
from libs.errors import error_from_rpc
from tests.services.intent.companies import greenhouse_job
from tests.services.intent.conftest import Intent, IntentFactory, intent_settings
from tests.services.intent.web import SITE, Page, Web
from tests.waiting import eventually

HIRING = common_pb2.INTENT_CATEGORY_HIRING
TECHNOLOGY = common_pb2.INTENT_CATEGORY_TECHNOLOGY


def by_name(company: pb.CompanySignals) -> dict[str, common_pb2.IntentSignal]:
    return {s.name: s for s in company.signals}


async def test_a_company_never_seen_is_fetched_within_the_call(intent: Intent, web: Web) -> None:
    response = await intent.stub.GetSignals(
        pb.GetSignalsRequest(account_id="acct_a", company_domain="https://www.Acme.com/about"), timeout=5
    )
    company = response.company
    assert company.company_domain == "acme.com"
    assert list(company.pending_sources) == []
    assert company.HasField("refresh_time")
    signals = by_name(company)
    assert set(signals) == {
        "hiring_sales_ops",
        "hiring_sales",
        "hiring_engineering",
        "adopted_hubspot",
        "adopted_google_tag_manager",
        "adopted_wordpress",
    }
    ops = signals["hiring_sales_ops"]
    assert (ops.category, ops.count, ops.source, ops.base_strength) == (HIRING, 2, "greenhouse", 78)
    assert ops.strength == 74  # the newest opening is two days old: 78 * 0.5 ** (2 / 30)
    assert ops.evidence[0].startswith("Sales Operations Manager (")
    engineering = signals["hiring_engineering"]
    assert engineering.strength == round(40 * 0.5 ** (20 / 30))
    hubspot = signals["adopted_hubspot"]
    assert (hubspot.category, hubspot.source, hubspot.strength) == (TECHNOLOGY, "homepage", 60)
    assert "script https://js.hs-scripts.com/123456.js" in hubspot.evidence
    strengths = [s.strength for s in company.signals]
    assert strengths == sorted(strengths, reverse=True)
    # Known now: asking again reads the store and fetches nothing.
    hits = len(web.hits)
    again = await intent.stub.GetSignals(pb.GetSignalsRequest(company_domain="acme.com"), timeout=5)
    assert set(by_name(again.company)) == set(signals)
    assert len(web.hits) == hits


async def test_sources_slower_than_the_deadline_are_pending_and_stored_when_done(
    intent: Intent, web: Web
) -> None:
    started = time.monotonic()
    response = await intent.stub.GetSignals(pb.GetSignalsRequest(company_domain="slowco.com"), timeout=0.8)
    assert time.monotonic() - started < 0.8
    assert list(response.company.pending_sources) == [pb.INTENT_SOURCE_TECHNOLOGY]
    assert "adopted_hubspot" not in by_name(response.company)

    async def stored() -> bool:  # the fetch went on in the background and was stored
        later = await intent.stub.GetSignals(pb.GetSignalsRequest(company_domain="slowco.com"), timeout=5)
        return not later.company.pending_sources and "adopted_hubspot" in by_name(later.company)

    await eventually(stored, interval=0.1)
    assert web.hits_of("/sites/slowco/") == 1


@pytest.mark.parametrize("domain", ["loopback-redirect.com", "metadata-redirect.com"])
async def test_a_homepage_redirecting_inside_is_refused_and_remembered(
    intent: Intent, web: Web, domain: str
) -> None:
    response = await intent.stub.GetSignals(
        pb.GetSignalsRequest(company_domain=domain, categories=[TECHNOLOGY]), timeout=5
    )
    assert list(response.company.signals) == []
    assert list(response.company.pending_sources) == []
    assert {address for address, _ in web.hits} == {SITE}
    stored = await intent.db["intent_companies"].find_one({"_id": domain})
    assert stored is not None
    assert stored["technology"]["status"] == "failed"
    assert stored["technology"]["error"].startswith("refused:")
    # A refused homepage is not fetched again on every request.
    await intent.stub.GetSignals(
        pb.GetSignalsRequest(company_domain=domain, categories=[TECHNOLOGY]), timeout=5
    )
    assert len(web.hits) == 1


async def test_categories_limit_both_the_answer_and_what_is_fetched(intent: Intent, web: Web) -> None:
    response = await intent.stub.GetSignals(
        pb.GetSignalsRequest(company_domain="acme.com", categories=[HIRING]), timeout=5
    )
    assert {s.category for s in response.company.signals} == {HIRING}
    assert web.hits_of("/sites/acme/") == 0


async def test_a_batch_answers_every_domain_in_order(intent: Intent, web: Web) -> None:
    response = await intent.stub.GetSignalsBatch(
        pb.GetSignalsBatchRequest(
            account_id="acct_a",
            company_domains=["globex.com", "not a domain", "acme.com", "ACME.com"],
        ),
        timeout=5,
    )
    domains = [c.company_domain for c in response.companies]
    assert domains == ["globex.com", "not a domain", "acme.com", "acme.com"]
    globex, invalid, acme, acme_again = response.companies
    assert set(by_name(globex)) == {
        "hiring_marketing",
        "hiring_sales",
        "adopted_segment",
        "adopted_drift",
        "adopted_shopify",
    }
    assert by_name(globex)["hiring_sales"].source == "lever"
    assert list(invalid.signals) == []
    assert "hiring_sales_ops" in by_name(acme) and acme == acme_again
    assert web.hits_of("/sites/acme/") == 1


async def test_a_batch_has_a_size_limit(web: Web, start_intent: IntentFactory) -> None:
    intent = await start_intent(intent_settings(web, intent_max_batch_domains=3))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intent.stub.GetSignalsBatch(
            pb.GetSignalsBatchRequest(company_domains=["a.com", "b.com", "c.com", "d.com"]), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(refused.value).reason == "TOO_MANY_DOMAINS"


async def test_an_invalid_domain_is_an_invalid_argument(intent: Intent) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intent.stub.GetSignals(pb.GetSignalsRequest(company_domain="localhost"), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(refused.value).reason == "INVALID_DOMAIN"


async def test_refresh_reads_the_sources_again(web: Web, start_intent: IntentFactory) -> None:
    intent = await start_intent(intent_settings(web, intent_min_refresh_interval=0))
    first = await intent.stub.GetSignals(pb.GetSignalsRequest(company_domain="acme.com"), timeout=5)
    assert by_name(first.company)["hiring_sales_ops"].count == 2
    board = "/greenhouse/v1/boards/acme/jobs?content=true"
    web.pages[board] = Page.json(
        {"jobs": [greenhouse_job(f"Sales Operations Specialist {n}", 1) for n in range(4)]}
    )
    refreshed = await intent.stub.Refresh(
        pb.RefreshRequest(company_domain="acme.com", sources=[pb.INTENT_SOURCE_HIRING]), timeout=5
    )
    signals = by_name(refreshed.company)
    assert signals["hiring_sales_ops"].count == 4
    assert "hiring_engineering" not in signals  # that opening is gone
    assert "adopted_hubspot" in signals  # a Refresh answers with every category
    assert (web.hits_of(board), web.hits_of("/sites/acme/")) == (2, 1)


async def test_refresh_does_not_fetch_twice_within_the_minimum_interval(intent: Intent, web: Web) -> None:
    await intent.stub.GetSignals(pb.GetSignalsRequest(company_domain="acme.com"), timeout=5)
    hits = len(web.hits)
    await intent.stub.Refresh(pb.RefreshRequest(company_domain="acme.com"), timeout=5)
    assert len(web.hits) == hits


async def test_a_failed_board_keeps_what_the_last_fetch_found(web: Web, start_intent: IntentFactory) -> None:
    intent = await start_intent(intent_settings(web, intent_min_refresh_interval=0))
    await intent.stub.GetSignals(pb.GetSignalsRequest(company_domain="acme.com"), timeout=5)
    web.pages["/greenhouse/v1/boards/acme/jobs?content=true"] = Page.json({}, "503 Service Unavailable")
    refreshed = await intent.stub.Refresh(
        pb.RefreshRequest(company_domain="acme.com", sources=[pb.INTENT_SOURCE_HIRING]), timeout=5
    )
    assert by_name(refreshed.company)["hiring_sales_ops"].count == 2
    stored = await intent.db["intent_companies"].find_one({"_id": "acme.com"})
    assert stored is not None and stored["hiring"]["status"] == "failed"
