"""Response bodies decoded within a byte limit: a small compressed reply cannot grow into gigabytes.

httpx decodes ``Content-Encoding`` itself, a whole network chunk at a time and through any stack of
encodings (``gzip, gzip``), so a few kilobytes on the wire can become a gigabyte in memory before a
caller's byte count sees it. :class:`BoundedDecodingTransport` takes that job from httpx for every
response, redirect hops included (httpx reads a redirect's body itself): it counts the encoded bytes
on the wire and the decoded bytes it hands on, both against the limit of the request (the
``MAX_BYTES_EXTENSION`` request extension, kept across redirects, else the transport's own), and
decodes at most ``_PIECE`` bytes per step. Only ``gzip``, ``deflate`` and ``identity`` are decoded,
one of them per response; anything else is refused with :class:`UnsupportedEncoding`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from libs.errors import InvalidArgument

__all__ = [
    "ACCEPT_ENCODING",
    "MAX_BYTES_EXTENSION",
    "BoundedDecodingTransport",
    "ResponseTooLarge",
    "UnsupportedEncoding",
]

ACCEPT_ENCODING = "gzip, deflate"  # what we can decode within a bound (no br, no zstd)
MAX_BYTES_EXTENSION = "leadmesh.max_bytes"
_PIECE = 64 * 1024  # the most decoded bytes produced by one step


class ResponseTooLarge(InvalidArgument):
    default_reason = "RESPONSE_TOO_LARGE"


class UnsupportedEncoding(InvalidArgument):
    """A response in an encoding we do not decode, or in more than one (``gzip, gzip``)."""

    default_reason = "UNSUPPORTED_CONTENT_ENCODING"


def _encoding(headers: httpx.Headers, url: httpx.URL) -> str:
    codings = [
        coding
        for value in headers.get_list("content-encoding", split_commas=True)
        if (coding := value.strip().lower()) not in ("", "identity")
    ]
    if len(codings) > 1:
        raise UnsupportedEncoding(f"{url} is sent in stacked encodings ({', '.join(codings)}); refused")
    if codings and codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedEncoding(f"{url} is sent in an encoding we do not decode ({codings[0]}); refused")
    return codings[0] if codings else "identity"


class _Inflater:
    """zlib in steps of at most ``_PIECE`` output bytes; concatenated gzip members are decoded too."""

    def __init__(self, encoding: str):
        self.gzip = encoding != "deflate"
        self.raw_deflate = False  # deflate is meant to be zlib-wrapped; some servers send it raw
        self.started = False
        self.finished = False  # the stream ended; what follows (padding, garbage) is dropped
        self.held = b""
        self.engine = self._new()

    def _new(self) -> Any:
        if self.gzip:
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if self.raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data and not self.finished:
            if self.engine.eof:
                data, self.held = self.held + data, b""
                if len(data) < 2 and self.gzip and b"\x1f\x8b".startswith(data):
                    self.held = data  # a next member's first byte: wait for the second
                    return
                if not (self.gzip and data.startswith(b"\x1f\x8b")):
                    self.finished = True  # padding or garbage after the end: dropped, as httpx does
                    return
                self.engine = self._new()  # the next gzip member
            try:
                piece = self.engine.decompress(data, _PIECE)
            except zlib.error:
                if self.gzip or self.started or self.raw_deflate:
                    raise httpx.DecodingError("the response body is not valid compressed data") from None
                self.raw_deflate = True
                self.engine = self._new()
                continue
            self.started = True
            data = self.engine.unused_data if self.engine.eof else self.engine.unconsumed_tail
            if piece:
                yield piece


class _BoundedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, encoding: str, limit: int, url: httpx.URL):
        self.inner, self.encoding, self.limit, self.url = inner, encoding, limit, url

    def _too_large(self, what: str) -> ResponseTooLarge:
        return ResponseTooLarge(f"{self.url} is larger than {self.limit} bytes ({what})")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        inflater = None if self.encoding == "identity" else _Inflater(self.encoding)
        encoded = decoded = 0
        async for chunk in self.inner:
            encoded += len(chunk)
            if encoded > self.limit:
                raise self._too_large("on the wire")
            for piece in [chunk] if inflater is None else inflater.feed(chunk):
                decoded += len(piece)
                if decoded > self.limit:
                    raise self._too_large("decoded")
                yield piece

    async def aclose(self) -> None:
        await self.inner.aclose()


class BoundedDecodingTransport(httpx.AsyncHTTPTransport):
    """An ``AsyncHTTPTransport`` whose responses arrive decoded (``Content-Encoding`` removed) and
    within ``max_bytes``, encoded and decoded, unless the request names its own limit."""

    def __init__(self, *, max_bytes: int, **options: Any):
        super().__init__(**options)
        self.max_bytes = max_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        try:
            encoding = _encoding(response.headers, request.url)
        except UnsupportedEncoding:
            await response.aclose()
            raise
        limit = int(request.extensions.get(MAX_BYTES_EXTENSION, self.max_bytes))
        headers = response.headers.copy()
        if encoding != "identity":
            del headers["content-encoding"]
            headers.pop("content-length", None)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=_BoundedStream(response.stream, encoding, limit, request.url),
            extensions=response.extensions,
        )
