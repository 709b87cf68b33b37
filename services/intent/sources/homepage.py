"""A company's homepage, fetched only from public addresses, within size and time limits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from libs.safe_http import ResponseTooLarge, UnsafeDestination, fetch_limited
from services.intent.domain.technology import PageFacts, extract_page
from services.intent.sources.errors import FetchFailed

__all__ = ["Homepage", "HomepageFetcher"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Homepage:
    url: str
    page: PageFacts


def _text(body: bytes, content_type: str) -> str:
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip("\"' ")
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


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
            except (httpx.HTTPError, TimeoutError, OSError) as exc:
                last_error = f"{url}: {type(exc).__name__}"
                continue
            if page.status_code >= 400:
                raise FetchFailed("http_error", f"{page.url} answered {page.status_code}")
            body = _text(page.body, page.headers.get("content-type", ""))
            facts = await asyncio.to_thread(
                extract_page, body, dict(page.headers.items()), page.cookies.keys()
            )
            return Homepage(page.url, facts)
        raise FetchFailed("unreachable", last_error)
