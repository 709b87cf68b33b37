"""A company's homepage, fetched only from public addresses, within size and time limits, and
decoded off the event loop in the charset it names when that is a common web one (else UTF-8)."""

from __future__ import annotations

import asyncio
import codecs
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from libs.safe_http import (
    FetchedPage,
    ResponseTooLarge,
    UnsafeDestination,
    UnsupportedEncoding,
    fetch_limited,
)
from services.intent.domain.technology import PageFacts, extract_page
from services.intent.sources.errors import FetchFailed

__all__ = ["Homepage", "HomepageFetcher"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Homepage:
    url: str
    page: PageFacts


# The charsets a homepage may name: the common ones of the WHATWG Encoding Standard (what browsers
# decode), all decoded by CPython's C codecs in linear time and without raising under
# errors="replace". Anything else (punycode is quadratic, idna raises, utf-7 and the rest are not
# web encodings) is read as UTF-8 with replacement characters.
_CHARSETS = frozenset(
    {
        "utf-8",
        "ascii",
        "iso8859-1",
        "iso8859-2",
        "iso8859-15",
        "cp1250",
        "cp1251",
        "cp1252",
        "koi8-r",
        "koi8-u",
        "shift_jis",
        "euc_jp",
        "gb2312",
        "gbk",
        "gb18030",
        "big5",
        "euc_kr",
    }
)


def _charset(content_type: str) -> str:
    """The page's charset when it is one of ``_CHARSETS``, else UTF-8."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            try:
                name = codecs.lookup(value.strip("\"' ")).name
            except LookupError:
                return "utf-8"
            return name if name in _CHARSETS else "utf-8"
    return "utf-8"


def _facts(page: FetchedPage) -> PageFacts:
    """Decodes and reads the page (CPU work: called off the event loop)."""
    try:
        body = page.body.decode(_charset(page.headers.get("content-type", "")), errors="replace")
    except UnicodeError as exc:  # not expected from the allowed codecs; still a stored failure
        raise FetchFailed("bad_response", f"{page.url} could not be decoded: {type(exc).__name__}") from None
    return extract_page(body, dict(page.headers.items()), page.cookies.keys())


class HomepageFetcher:
    """``https://<domain>/`` (then ``https://www.<domain>/``, then ``http://<domain>/``)."""

    def __init__(
        self, client: httpx.AsyncClient, overrides: Mapping[str, str], max_bytes: int, timeout: float
    ):
        self.client = client
        self.overrides = overrides
        self.max_bytes = max_bytes
        self.timeout = timeout

    def candidates(self, domain: str) -> list[str]:
        override = self.overrides.get(domain)
        if override:
            return [override]
        return [f"https://{domain}/", f"https://www.{domain}/", f"http://{domain}/"]

    async def fetch(self, domain: str) -> Homepage:
        """The homepage's facts; FetchFailed when no candidate answers or the address is refused."""
        end = time.monotonic() + self.timeout
        last_error = "no answer"
        for url in self.candidates(domain):
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            try:
                page = await fetch_limited(self.client, url, max_bytes=self.max_bytes, deadline=remaining)
            except UnsafeDestination as exc:
                log.warning("homepage refused", extra={"domain": domain, "url": url, "reason": exc.message})
                raise FetchFailed("refused", exc.message) from None
            except ResponseTooLarge:
                raise FetchFailed("too_large", f"{url} is larger than {self.max_bytes} bytes") from None
            except UnsupportedEncoding as exc:
                raise FetchFailed("bad_response", exc.message) from None
            except (httpx.HTTPError, TimeoutError, OSError) as exc:
                last_error = f"{url}: {type(exc).__name__}"
                continue
            if page.status_code >= 400:
                raise FetchFailed("http_error", f"{page.url} answered {page.status_code}")
            return Homepage(page.url, await asyncio.to_thread(_facts, page))
        raise FetchFailed("unreachable", last_error)
