"""LinkedIn profile and company URLs in one canonical form."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

__all__ = ["linkedin_slug", "normalize_linkedin_url"]

_URL = re.compile(
    r"^(?:https?://)?(?:[a-z]{2,3}\.|www\.|m\.)?linkedin\.com/(in|company|school|showcase)/([^/?#\s]+)",
    re.IGNORECASE,
)
_BARE_PATH = re.compile(r"^/?(in|company)/([^/?#\s]+)", re.IGNORECASE)
_SLUG = re.compile(r"^[\w\-%.~]{2,100}$", re.UNICODE)


@lru_cache(maxsize=65536)
def normalize_linkedin_url(raw: str) -> str | None:
    """``https://www.linkedin.com/in/<slug>`` for any way of writing a profile URL (``/company/``,
    ``/school/`` and ``/showcase/`` pages alike): scheme, country subdomains, query strings,
    trailing paths and letter case do not matter. None when it is not such a page."""
    text = raw.strip()
    match = _URL.match(text) or _BARE_PATH.match(text)
    if match is None:
        return None
    kind = match.group(1).lower()
    slug = unquote(match.group(2)).strip().lower().rstrip(".")
    if not _SLUG.match(slug):
        return None
    return f"https://www.linkedin.com/{kind}/{slug}"


def linkedin_slug(raw: str) -> str | None:
    """The slug of a profile URL (``jane-doe-1a2b3c``), or None."""
    url = normalize_linkedin_url(raw)
    return None if url is None else url.rsplit("/", 1)[1]
