"""A compressed reply cannot grow past the fetch limit in memory: encoded bytes are counted on the
wire, decoded ones are capped as they are produced, and stacked or unknown encodings are refused,
on every redirect hop too. The site is a real loopback HTTP server serving real gzip bombs."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from libs.embedded_store import free_port
from libs.safe_http import (
    OutboundPolicy,
    ResponseTooLarge,
    UnsupportedEncoding,
    fetch_limited,
    guarded_client,
)

SITE = "127.0.0.2"
POLICY = OutboundPolicy.from_cidrs([f"{SITE}/32"])
LIMIT = 2_000_000  # the homepage fetcher's default limit
BOMB_SIZE = 256 * 1024 * 1024  # decoded size of each bomb


def _gzip_zeros(size: int) -> bytes:
    """``size`` zero bytes gzipped, built a megabyte at a time (never the whole thing in memory)."""
    engine = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [engine.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, engine.flush()])


ONCE = _gzip_zeros(BOMB_SIZE)  # about 250 KB
TWICE = gzip.compress(ONCE, 9)  # a few hundred bytes: 256 MiB behind "gzip, gzip"
PAGE = b"<html>" + b"hello " * 1000 + b"</html>"


class Site:
    def __init__(self) -> None:
        self.port = 0
        self.pages: dict[str, tuple[str, dict[str, str], bytes]] = {
            "/bomb": ("200 OK", {"Content-Encoding": "gzip"}, ONCE),
            "/stacked": ("200 OK", {"Content-Encoding": "gzip, gzip"}, TWICE),
            "/stacked-lines": ("200 OK", {"Content-Encoding": "gzip", "content-encoding": "gzip"}, TWICE),
            "/brotli": ("200 OK", {"Content-Encoding": "br"}, b"\x0b\x02\x80hello\x03"),
            "/gzip-page": ("200 OK", {"Content-Encoding": "gzip"}, gzip.compress(PAGE)),
            "/deflate-page": ("200 OK", {"Content-Encoding": "deflate"}, zlib.compress(PAGE)),
            "/raw-deflate-page": ("200 OK", {"Content-Encoding": "deflate"}, _raw_deflate(PAGE)),
            "/redirect-bomb": ("302 Found", {"Location": "/gzip-page", "Content-Encoding": "gzip"}, ONCE),
            "/redirect-stacked": (
                "302 Found",
                {"Location": "/gzip-page", "Content-Encoding": "gzip, gzip"},
                TWICE,
            ),
            "/hop": ("302 Found", {"Location": "/bomb"}, b""),
        }
        self.accept_encoding = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ")[1].decode()
        for line in request.decode().split("\r\n"):
            if line.lower().startswith("accept-encoding:"):
                self.accept_encoding = line.split(":", 1)[1].strip()
        status, headers, body = self.pages.get(path, ("404 Not Found", {}, b"no"))
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"HTTP/1.1 {status}\r\n{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        try:
            writer.write(body)
            await writer.drain()
        except ConnectionError:
            pass  # the client stopped reading: what a refused body looks like from here
        writer.close()


def _raw_deflate(data: bytes) -> bytes:
    engine = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return engine.compress(data) + engine.flush()


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    served = Site()
    served.port = free_port(SITE)
    server = await asyncio.start_server(served.handle, SITE, served.port)
    yield served
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        ("/bomb", ResponseTooLarge),
        ("/stacked", UnsupportedEncoding),
        ("/stacked-lines", UnsupportedEncoding),
        ("/redirect-bomb", ResponseTooLarge),
        ("/redirect-stacked", UnsupportedEncoding),
        ("/hop", ResponseTooLarge),
    ],
)
async def test_a_decompression_bomb_is_refused_without_growing_memory(
    site: Site, path: str, refusal: type[Exception]
) -> None:
    async with guarded_client(POLICY) as client:
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            with pytest.raises(refusal):
                await fetch_limited(client, f"http://{SITE}:{site.port}{path}", max_bytes=LIMIT, deadline=20)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak - base < 3 * LIMIT, f"memory grew by {(peak - base) // 1_000_000} MB"


async def test_an_unknown_encoding_is_refused_with_a_clear_error(site: Site) -> None:
    async with guarded_client(POLICY) as client:
        with pytest.raises(UnsupportedEncoding, match=r"encoding we do not decode \(br\)") as refused:
            await fetch_limited(client, f"http://{SITE}:{site.port}/brotli", max_bytes=LIMIT, deadline=5)
    assert refused.value.reason == "UNSUPPORTED_CONTENT_ENCODING"


@pytest.mark.parametrize("path", ["/gzip-page", "/deflate-page", "/raw-deflate-page"])
async def test_compressed_pages_within_the_limit_are_decoded(site: Site, path: str) -> None:
    async with guarded_client(POLICY) as client:
        page = await fetch_limited(client, f"http://{SITE}:{site.port}{path}", max_bytes=LIMIT, deadline=5)
    assert page.body == PAGE
    assert "content-encoding" not in page.headers


async def test_a_compressed_page_over_the_limit_is_refused_by_its_decoded_size(site: Site) -> None:
    async with guarded_client(POLICY) as client:
        with pytest.raises(ResponseTooLarge, match="decoded"):
            await fetch_limited(client, f"http://{SITE}:{site.port}/gzip-page", max_bytes=1000, deadline=5)


async def test_only_encodings_we_can_bound_are_asked_for(site: Site) -> None:
    async with guarded_client(POLICY) as client:
        await fetch_limited(client, f"http://{SITE}:{site.port}/gzip-page", max_bytes=LIMIT, deadline=5)
    assert site.accept_encoding == "gzip, deflate"


async def test_the_client_limit_guards_plain_requests_too(site: Site) -> None:
    async with guarded_client(POLICY, max_response_bytes=LIMIT) as client:
        with pytest.raises(ResponseTooLarge):
            await client.get(f"http://{SITE}:{site.port}/bomb")


def test_concatenated_members_are_decoded_and_trailing_padding_dropped() -> None:
    from libs.http_decoding import _Inflater

    data = gzip.compress(b"one ") + gzip.compress(b"two") + b"\x00" * 10
    for size in (1, 2, 7, len(data)):  # every way the network may cut it
        inflater = _Inflater("gzip")
        pieces = [inflater.feed(data[n : n + size]) for n in range(0, len(data), size)]
        assert b"".join(piece for feed in pieces for piece in feed) == b"one two"
