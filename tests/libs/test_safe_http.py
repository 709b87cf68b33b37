"""Outbound fetches to user-supplied URLs never reach private, loopback or metadata addresses."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from libs.embedded_store import free_port
from libs.errors import InvalidArgument
from libs.safe_http import OutboundPolicy, ResponseTooLarge, UnsafeDestination, fetch_limited, guarded_client

SITE = "127.0.0.2"  # stands in for a public website: the tests' policy allows exactly this address


class Site:
    """A tiny HTTP/1.1 server with a few pages."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.hits: list[str] = []

    def page(self, path: str) -> tuple[str, dict[str, str], bytes]:
        pages = {
            "/": (
                "200 OK",
                {"Content-Type": "text/html", "Set-Cookie": "hubspotutk=abc"},
                b"<html>hello</html>",
            ),
            "/to-loopback": ("302 Found", {"Location": f"http://127.0.0.1:{self.port}/"}, b""),
            "/to-metadata": ("302 Found", {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
            "/to-home": ("301 Moved Permanently", {"Location": "/"}, b""),
            "/big": ("200 OK", {"Content-Type": "text/html"}, b"x" * 300_000),
        }
        return pages.get(path, ("404 Not Found", {}, b"no"))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ")[1].decode()
        self.hits.append(path)
        status, headers, body = self.page(path)
        head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": str(len(body))}.items())
        writer.write(f"HTTP/1.1 {status}\r\n{head}Connection: close\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    port = free_port(SITE)
    server_site = Site(SITE, port)
    servers = [
        await asyncio.start_server(server_site.handle, host, port) for host in (SITE, "127.0.0.1")
    ]  # the same pages on 127.0.0.1: a request that got there would succeed
    yield server_site
    for server in servers:
        server.close()
        await server.wait_closed()


POLICY = OutboundPolicy.from_cidrs([f"{SITE}/32"])


async def test_an_allowed_site_is_fetched_with_its_headers_and_cookies(site: Site) -> None:
    async with guarded_client(POLICY) as client:
        page = await fetch_limited(client, f"http://{SITE}:{site.port}/to-home", max_bytes=10_000, deadline=5)
    assert (page.status_code, page.body, page.url) == (
        200,
        b"<html>hello</html>",
        f"http://{SITE}:{site.port}/",
    )
    assert page.cookies == {"hubspotutk": "abc"}


@pytest.mark.parametrize("path", ["/to-loopback", "/to-metadata"])
async def test_a_redirect_to_a_private_address_is_refused(site: Site, path: str) -> None:
    async with guarded_client(POLICY) as client:
        with pytest.raises(UnsafeDestination):
            await fetch_limited(client, f"http://{SITE}:{site.port}{path}", max_bytes=10_000, deadline=5)
    assert site.hits == [path]  # nothing reached the loopback copy of the site


# IPv6 addresses that lead to loopback, private or metadata IPv4 addresses.
IPV6_CARRYING_IPV4 = {
    "IPv4-mapped": "::ffff:127.0.0.1",
    "NAT64 well-known prefix": "64:ff9b::7f00:1",
    "NAT64 to metadata": "64:ff9b::a9fe:a9fe",
    "NAT64 local-use prefix": "64:ff9b:1::7f00:1",
    "6to4": "2002:7f00:1::",
    "6to4 to private": "2002:a00:1::1",
    "IPv4-compatible": "::7f00:1",
    "Teredo client": "2001:0:4136:e378:8000:63bf:80ff:fffe",  # client 127.0.0.1
}


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "2130706433",
        "10.0.0.1",
        "169.254.169.254",
        *(f"[{address}]" for address in IPV6_CARRYING_IPV4.values()),
    ],
)
async def test_private_and_loopback_hosts_are_refused_before_connecting(site: Site, host: str) -> None:
    async with guarded_client(OutboundPolicy()) as client:
        with pytest.raises(UnsafeDestination):
            await fetch_limited(client, f"http://{host}:{site.port}/", max_bytes=10_000, deadline=5)
    assert site.hits == []


async def test_a_response_over_the_size_limit_is_cut_off(site: Site) -> None:
    async with guarded_client(POLICY) as client:
        with pytest.raises(ResponseTooLarge):
            await fetch_limited(client, f"http://{SITE}:{site.port}/big", max_bytes=100_000, deadline=5)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/",
        "http://user:pw@example.com/",
        "not a url",
        "http:///nohost",
    ],
)
async def test_urls_that_are_not_plain_http_are_invalid(url: str) -> None:
    async with guarded_client(OutboundPolicy()) as client:
        with pytest.raises(InvalidArgument):
            await fetch_limited(client, url, max_bytes=1000, deadline=1)


@pytest.mark.parametrize("address", IPV6_CARRYING_IPV4.values(), ids=IPV6_CARRYING_IPV4.keys())
def test_an_ipv6_address_is_judged_by_the_ipv4_address_it_carries(address: str) -> None:
    assert not OutboundPolicy().allows(address)
    assert not OutboundPolicy().allows(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"],
)
def test_public_addresses_stay_allowed_whatever_their_form(address: str) -> None:
    assert OutboundPolicy().allows(address)


def test_text_that_is_not_an_address_is_refused() -> None:
    assert not OutboundPolicy().allows("example.com")
    assert not OutboundPolicy.from_cidrs(["0.0.0.0/0", "::/0"]).allows("")


def test_an_allowed_ipv4_network_allows_its_addresses_in_ipv6_form() -> None:
    loopback = OutboundPolicy.from_cidrs(["127.0.0.0/8"])
    assert loopback.allows("::ffff:127.0.0.1") and loopback.allows("64:ff9b::7f00:1")
    assert not loopback.allows("::ffff:10.0.0.1") and not loopback.allows("64:ff9b::a00:1")


async def test_a_mapped_address_of_an_allowed_network_is_fetched(site: Site) -> None:
    async with guarded_client(POLICY) as client:
        page = await fetch_limited(
            client, f"http://[::ffff:{SITE}]:{site.port}/", max_bytes=10_000, deadline=5
        )
    assert (page.status_code, page.body) == (200, b"<html>hello</html>")
    async with guarded_client(OutboundPolicy()) as client:
        with pytest.raises(UnsafeDestination):
            await fetch_limited(client, f"http://[::ffff:{SITE}]:{site.port}/", max_bytes=10_000, deadline=5)
    assert site.hits == ["/"]


async def test_redirects_are_not_followed_when_asked_not_to(site: Site) -> None:
    async with guarded_client(POLICY, follow_redirects=False) as client:
        page = await fetch_limited(client, f"http://{SITE}:{site.port}/to-home", max_bytes=10_000, deadline=5)
    assert (page.status_code, site.hits) == (301, ["/to-home"])


async def test_a_port_outside_the_policy_is_refused_before_connecting(site: Site) -> None:
    web_ports = OutboundPolicy.from_cidrs([f"{SITE}/32"], ports=["80", "443"])
    async with guarded_client(web_ports) as client:
        with pytest.raises(UnsafeDestination, match=f"port {site.port}"):
            await fetch_limited(client, f"http://{SITE}:{site.port}/", max_bytes=10_000, deadline=5)
    assert site.hits == []
    opened = OutboundPolicy.from_cidrs([f"{SITE}/32"], ports=["80", "443", f"{site.port - 1}-{site.port}"])
    async with guarded_client(opened) as client:
        page = await fetch_limited(client, f"http://{SITE}:{site.port}/", max_bytes=10_000, deadline=5)
    assert page.status_code == 200


@pytest.mark.parametrize("spec", ["0", "65536", "abc", "90-80", ""])
def test_a_bad_port_entry_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="not a port"):
        OutboundPolicy.from_cidrs([], ports=[spec])
