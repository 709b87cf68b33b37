"""A company whose website never answers: every request for it is answered at once (the source
pending, then failed and left alone), and the site is fetched once however many leads ask."""

from __future__ import annotations

import asyncio

from leadmesh.intent.v1 import intent_service_pb2 as pb
from tests.services.intent.companies import install
from tests.services.intent.conftest import IntentFactory, intent_settings
from tests.services.intent.web import Page, Web
from tests.waiting import eventually

DOWN = "/sites/downco/"


async def test_an_unreachable_website_is_fetched_once_for_many_leads(
    web: Web, start_intent: IntentFactory
) -> None:
    web.pages[DOWN] = Page.html("<html>too late</html>", delay=30)  # past any fetch's time limit
    settings = intent_settings(
        web,
        intent_homepage_overrides={**install(web), "downco.com": web.url(DOWN)},
        intent_fetch_timeout=0.5,
        intent_first_fetch_wait=0.1,
        intent_retry_failed_after=600,
    )
    intent = await start_intent(settings)
    ask = pb.GetSignalsBatchRequest(account_id="acct", company_domains=["downco.com", "acme.com"])

    # 500 rows of the company in 20 chunks, a few at once, while the fetch runs and after it failed.
    async def chunk() -> pb.GetSignalsBatchResponse:
        return await intent.stub.GetSignalsBatch(ask, timeout=5)

    first = await asyncio.gather(*(chunk() for _ in range(10)))
    assert all(pb.INTENT_SOURCE_TECHNOLOGY in r.companies[0].pending_sources for r in first)

    async def failed() -> bool:
        stored = await intent.db["intent_companies"].find_one({"_id": "downco.com"})
        return stored is not None and stored.get("technology", {}).get("status") == "failed"

    await eventually(failed, interval=0.05)
    later = await asyncio.gather(*(chunk() for _ in range(10)))
    # Failed and remembered: not pending (nobody waits for it), not fetched again.
    assert all(list(r.companies[0].pending_sources) == [] for r in later)
    assert web.hits_of(DOWN) == 1
    stored = await intent.db["intent_companies"].find_one({"_id": "downco.com"})
    assert stored is not None and stored["technology"]["failures"] == 1
    assert stored["technology"]["error"].startswith("unreachable")


async def test_a_lost_failure_write_does_not_start_the_fetch_again(
    web: Web, start_intent: IntentFactory
) -> None:
    """The process remembers a failure itself: when the store no longer says so (a write lost, or
    another replica's view), the site is still left alone until its retry time."""
    web.pages[DOWN] = Page("503 Service Unavailable", body=b"down")
    settings = intent_settings(
        web,
        intent_homepage_overrides={**install(web), "downco.com": web.url(DOWN)},
        intent_retry_failed_after=600,
        intent_read_cache_seconds=0,
    )
    intent = await start_intent(settings)
    ask = pb.GetSignalsRequest(account_id="acct", company_domain="downco.com")
    await intent.stub.GetSignals(ask, timeout=5)
    await eventually(lambda: web.hits_of(DOWN) == 1)
    stored = {"_id": "downco.com", "technology.status": "failed"}
    await eventually(lambda: intent.db["intent_companies"].find_one(stored))
    await intent.db["intent_companies"].update_one({"_id": "downco.com"}, {"$unset": {"technology": ""}})
    again = await intent.stub.GetSignals(ask, timeout=5)  # waits (3 s) for any fetch it starts
    assert list(again.company.pending_sources) == []
    assert web.hits_of(DOWN) == 1
