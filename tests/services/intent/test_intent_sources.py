"""The job-board adapters and the homepage fetcher against loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from libs.safe_http import OutboundPolicy, guarded_client
from services.intent.domain import default_catalog
from services.intent.sources.boards import JobBoards, board_slug
from services.intent.sources.errors import FetchFailed
from services.intent.sources.homepage import HomepageFetcher
from tests.services.intent.companies import install
from tests.services.intent.web import SITE, Page, Web


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with guarded_client(OutboundPolicy.from_cidrs([f"{SITE}/32"]), timeout=3) as guarded:
        yield guarded


def boards(
    web: Web, client: httpx.AsyncClient, overrides: dict[str, dict[str, str]] | None = None
) -> JobBoards:
    return JobBoards(
        client,
        greenhouse_base_url=web.url("/greenhouse"),
        lever_base_url=web.url("/lever/"),
        overrides=overrides or {},
        max_bytes=1_000_000,
        timeout=3,
    )


@pytest.mark.parametrize(
    ("domain", "slug"), [("acme.com", "acme"), ("www.acme.co.uk", "acme"), ("my-co.io", "my-co")]
)
def test_a_board_handle_is_the_registered_domains_first_label(domain: str, slug: str) -> None:
    assert board_slug(domain) == slug


async def test_greenhouse_jobs_are_read_with_titles_dates_and_departments(
    web: Web, client: httpx.AsyncClient
) -> None:
    install(web)
    found = await boards(web, client).postings("acme.com")
    assert found.boards == ("greenhouse",)
    titles = {p.title: p for p in found.postings}
    assert set(titles) == {
        "Sales Operations Manager",
        "Revenue Operations Analyst",
        "Account Executive",
        "Senior Software Engineer",
    }
    job = titles["Sales Operations Manager"]
    assert (job.board, job.location, job.posted_time is not None) == ("greenhouse", "Remote", True)
    assert web.hits_of("/lever/v0/postings/acme?mode=json") == 1  # asked, and it has no board there


async def test_lever_postings_are_read_with_their_creation_time_and_team(
    web: Web, client: httpx.AsyncClient
) -> None:
    install(web)
    found = await boards(web, client).postings("globex.com")
    assert found.boards == ("lever",)
    manager = next(p for p in found.postings if p.title == "Account Manager")
    assert (manager.department, manager.location, manager.board) == ("Sales", "Berlin", "lever")
    assert manager.url.startswith("https://jobs.example/globex/")


async def test_an_override_names_the_handle_or_skips_a_board(web: Web, client: httpx.AsyncClient) -> None:
    install(web)
    overrides = {"acme-corp.com": {"greenhouse": "acme", "lever": ""}}
    found = await boards(web, client, overrides).postings("acme-corp.com")
    assert len(found.postings) == 4
    assert web.hits_of("/lever/v0/postings/acme-corp?mode=json") == 0


async def test_no_board_anywhere_is_no_postings_and_a_broken_board_is_a_failure(
    web: Web, client: httpx.AsyncClient
) -> None:
    install(web)
    empty = await boards(web, client).postings("nobody.com")
    assert (empty.postings, empty.boards) == ((), ())
    with pytest.raises(FetchFailed) as broken:
        await boards(web, client).postings("initech.com")
    assert broken.value.kind == "http_error"
    web.pages["/lever/v0/postings/hooli?mode=json"] = Page.html("<html>not json</html>")
    with pytest.raises(FetchFailed) as garbled:
        await boards(web, client).postings("hooli.com")
    assert garbled.value.kind == "bad_response"


def homepage(web: Web, client: httpx.AsyncClient, max_bytes: int = 1_000_000) -> HomepageFetcher:
    return HomepageFetcher(client, install(web), max_bytes, timeout=3)


async def test_a_homepage_shows_its_technologies(web: Web, client: httpx.AsyncClient) -> None:
    fetched = await homepage(web, client).fetch("acme.com")
    assert fetched.url == web.url("/sites/acme/")
    assert "hubspotutk" in fetched.page.cookies
    slugs = {d.slug for d in default_catalog().detect(fetched.page)}
    assert slugs == {"hubspot", "google_tag_manager", "wordpress"}
    globex = await homepage(web, client).fetch("globex.com")
    assert {d.slug for d in default_catalog().detect(globex.page)} == {"segment", "drift", "shopify"}


@pytest.mark.parametrize("domain", ["loopback-redirect.com", "metadata-redirect.com"])
async def test_a_homepage_redirecting_to_a_private_address_is_refused(
    web: Web, client: httpx.AsyncClient, domain: str
) -> None:
    with pytest.raises(FetchFailed) as refused:
        await homepage(web, client).fetch(domain)
    assert refused.value.kind == "refused"
    assert [address for address, _ in web.hits] == [SITE]  # the loopback copy was never reached


async def test_without_an_allowance_a_loopback_homepage_is_refused(web: Web) -> None:
    async with guarded_client(OutboundPolicy(), timeout=3) as strict:
        with pytest.raises(FetchFailed) as refused:
            await HomepageFetcher(strict, install(web), 1_000_000, 3).fetch("acme.com")
    assert refused.value.kind == "refused"
    assert web.hits == []


async def test_a_homepage_over_the_size_limit_is_not_read(web: Web, client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchFailed) as too_large:
        await homepage(web, client, max_bytes=100).fetch("acme.com")
    assert too_large.value.kind == "too_large"


async def test_a_homepage_slower_than_the_time_limit_is_unreachable(
    web: Web, client: httpx.AsyncClient
) -> None:
    fetcher = HomepageFetcher(client, install(web), 1_000_000, timeout=0.3)
    with pytest.raises(FetchFailed) as slow:
        await fetcher.fetch("slowco.com")
    assert slow.value.kind == "unreachable"
