"""Technologies of an account's ICP competitors, with the real scoring service holding the ICP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2
from leadmesh.intent.v1 import intent_service_pb2 as pb
from leadmesh.scoring.v1 import scoring_service_pb2 as scoring_pb
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as scoring_grpc
from libs.mongo import Document
from services.scoring.app import create_server as create_scoring_server
from services.scoring.settings import ScoringSettings
from tests import grpc_callers
from tests.services.intent.companies import ACME_HOME
from tests.services.intent.conftest import Intent, IntentFactory, intent_settings
from tests.services.intent.web import Page, Web

TECHNOLOGY = [common_pb2.INTENT_CATEGORY_TECHNOLOGY]


@pytest_asyncio.fixture
async def scoring(db: AsyncDatabase[Document]) -> AsyncIterator[tuple[str, scoring_grpc.ScoringServiceStub]]:
    server = await create_scoring_server(db, ScoringSettings(shutdown_grace=1), "127.0.0.1:0")
    port = await server.start()
    async with grpc_callers.channel(f"127.0.0.1:{port}") as channel:
        yield f"127.0.0.1:{port}", scoring_grpc.ScoringServiceStub(channel)
    await server.stop()


async def set_competitors(stub: scoring_grpc.ScoringServiceStub, account_id: str, *competitors: str) -> None:
    profile = scoring_pb.IcpProfile(
        seniorities=scoring_pb.SeniorityCriterion(values=[common_pb2.SENIORITY_DIRECTOR], weight=50),
        competitors=list(competitors),
    )
    await stub.UpdateIcpProfile(
        scoring_pb.UpdateIcpProfileRequest(account_id=account_id, profile=profile), timeout=5
    )


async def names(
    intent: Intent, account_id: str, domain: str = "acme.com"
) -> dict[str, common_pb2.IntentSignal]:
    response = await intent.stub.GetSignals(
        pb.GetSignalsRequest(account_id=account_id, company_domain=domain, categories=TECHNOLOGY), timeout=5
    )
    return {s.name: s for s in response.company.signals}


async def test_a_competitors_technology_in_use_is_uses_competitor_for_that_account_only(
    web: Web, start_intent: IntentFactory, scoring: tuple[str, scoring_grpc.ScoringServiceStub]
) -> None:
    address, stub = scoring
    await set_competitors(stub, "acct_rival", "HubSpot", "Outreach")
    intent = await start_intent(intent_settings(web, scoring_addr=address))
    rival = await names(intent, "acct_rival")
    assert set(rival) == {"uses_competitor", "adopted_google_tag_manager", "adopted_wordpress"}
    uses = rival["uses_competitor"]
    assert (uses.count, uses.base_strength, uses.source) == (1, 60, "homepage")
    assert uses.evidence[0] == "HubSpot (competitor: hubspot)"
    # Another account, whose ICP names no competitor, sees a plain adoption.
    assert "adopted_hubspot" in await names(intent, "acct_other")


async def test_a_competitor_appearing_after_the_first_scan_is_being_evaluated(
    web: Web, start_intent: IntentFactory, scoring: tuple[str, scoring_grpc.ScoringServiceStub]
) -> None:
    address, stub = scoring
    await set_competitors(stub, "acct_rival", "hubspot.com")
    intent = await start_intent(intent_settings(web, scoring_addr=address, intent_min_refresh_interval=0))
    web.pages["/sites/acme/"] = Page.html(
        "<html><head><meta name='generator' content='WordPress 6'></head></html>"
    )
    assert set(await names(intent, "acct_rival")) == {"adopted_wordpress"}
    web.pages["/sites/acme/"] = Page.html(ACME_HOME)
    refreshed = await intent.stub.Refresh(
        pb.RefreshRequest(account_id="acct_rival", company_domain="acme.com"), timeout=5
    )
    signals = {s.name: s for s in refreshed.company.signals}
    assert "evaluated_competitor" in signals and "uses_competitor" not in signals
    assert signals["evaluated_competitor"].evidence[0] == "HubSpot (competitor: hubspot.com)"
    assert signals["evaluated_competitor"].strength == 85


async def test_without_scoring_signals_come_without_competitors_and_in_time(intent: Intent) -> None:
    started = time.monotonic()
    signals = await names(intent, "acct_rival")
    assert time.monotonic() - started < 3
    assert "adopted_hubspot" in signals
