"""Public job boards shaped like the two common applicant-tracking systems' APIs.

Greenhouse: ``GET {base}/v1/boards/{token}/jobs?content=true`` -> ``{"jobs": [{"title",
"updated_at", "first_published", "location": {"name"}, "departments": [{"name"}], "absolute_url"}]}``.
Lever: ``GET {base}/v0/postings/{company}?mode=json`` -> ``[{"text", "createdAt" (ms),
"categories": {"team", "department", "location"}, "hostedUrl"}]``.
A board that does not exist (404) has no postings; anything else unexpected is a FetchFailed.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from libs.normalize import normalize_domain
from libs.safe_http import ResponseTooLarge, UnsafeDestination, UnsupportedEncoding, fetch_limited
from services.intent.domain.hiring import JobPosting
from services.intent.sources.errors import FetchFailed

__all__ = ["BoardPostings", "JobBoards", "board_slug", "parse_greenhouse", "parse_lever"]

GREENHOUSE = "greenhouse"
LEVER = "lever"


def board_slug(domain: str) -> str:
    """The handle a company most likely has on a board: its registered domain's first label."""
    registered = normalize_domain(domain) or domain
    return re.sub(r"[^a-z0-9-]", "", registered.split(".", 1)[0].lower())


def _time(value: Any) -> datetime | None:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, UTC)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _name(value: Any) -> str:
    return str(value.get("name") or "") if isinstance(value, dict) else ""


def parse_greenhouse(document: Any) -> list[JobPosting]:
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(jobs, list):
        raise FetchFailed("bad_response", 'a Greenhouse board answers {"jobs": [...]}')
    postings = []
    for job in jobs:
        if not isinstance(job, dict) or not str(job.get("title") or "").strip():
            continue
        departments = job.get("departments")
        department = _name(departments[0]) if isinstance(departments, list) and departments else ""
        postings.append(
            JobPosting(
                title=str(job["title"]).strip(),
                posted_time=_time(job.get("first_published")) or _time(job.get("updated_at")),
                url=str(job.get("absolute_url") or ""),
                department=department,
                location=_name(job.get("location")),
                board=GREENHOUSE,
            )
        )
    return postings


def parse_lever(document: Any) -> list[JobPosting]:
    if not isinstance(document, list):
        raise FetchFailed("bad_response", "a Lever board answers [...]")
    postings = []
    for job in document:
        if not isinstance(job, dict) or not str(job.get("text") or "").strip():
            continue
        raw_categories = job.get("categories")
        categories = raw_categories if isinstance(raw_categories, dict) else {}
        postings.append(
            JobPosting(
                title=str(job["text"]).strip(),
                posted_time=_time(job.get("createdAt")),
                url=str(job.get("hostedUrl") or ""),
                department=str(categories.get("department") or categories.get("team") or ""),
                location=str(categories.get("location") or ""),
                board=LEVER,
            )
        )
    return postings


@dataclass(frozen=True)
class BoardPostings:
    """The open jobs found, and the boards (``greenhouse``, ``lever``) that had them."""

    postings: tuple[JobPosting, ...]
    boards: tuple[str, ...]


class JobBoards:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        greenhouse_base_url: str,
        lever_base_url: str,
        overrides: Mapping[str, Mapping[str, str]],
        max_bytes: int,
        timeout: float,
    ):
        self.client = client
        self.greenhouse_base_url = greenhouse_base_url.rstrip("/")
        self.lever_base_url = lever_base_url.rstrip("/")
        self.overrides = overrides
        self.max_bytes = max_bytes
        self.timeout = timeout

    def handles(self, domain: str) -> dict[str, str]:
        """board -> the company's handle on it; an override may name or skip ("") a board."""
        default = board_slug(domain)
        handles = {GREENHOUSE: default, LEVER: default}
        handles.update(self.overrides.get(domain, {}))
        return {board: handle for board, handle in handles.items() if board in (GREENHOUSE, LEVER) and handle}

    def _url(self, board: str, handle: str) -> str:
        token = quote(handle, safe="")
        if board == GREENHOUSE:
            return f"{self.greenhouse_base_url}/v1/boards/{token}/jobs?content=true"
        return f"{self.lever_base_url}/v0/postings/{token}?mode=json"

    async def _board(self, board: str, handle: str) -> list[JobPosting] | None:
        url = self._url(board, handle)
        try:
            page = await fetch_limited(self.client, url, max_bytes=self.max_bytes, deadline=self.timeout)
        except UnsafeDestination as exc:
            raise FetchFailed("refused", exc.message) from None
        except ResponseTooLarge:
            raise FetchFailed(
                "too_large", f"{board} board {handle!r} is larger than {self.max_bytes} bytes"
            ) from None
        except UnsupportedEncoding as exc:
            raise FetchFailed("bad_response", exc.message) from None
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise FetchFailed("unreachable", f"{board} board {handle!r}: {type(exc).__name__}") from None
        if page.status_code == 404:
            return None
        if page.status_code != 200:
            raise FetchFailed("http_error", f"{board} board {handle!r} answered {page.status_code}")
        try:
            document = json.loads(page.body)
        except ValueError:
            raise FetchFailed("bad_response", f"{board} board {handle!r} did not answer JSON") from None
        return parse_greenhouse(document) if board == GREENHOUSE else parse_lever(document)

    async def postings(self, domain: str) -> BoardPostings:
        """Every board's open jobs. One board failing fails the fetch unless another answered."""
        handles = self.handles(domain)
        results = await asyncio.gather(
            *(self._board(board, handle) for board, handle in handles.items()), return_exceptions=True
        )
        postings: list[JobPosting] = []
        boards: list[str] = []
        failures: list[FetchFailed] = []
        for board, result in zip(handles, results, strict=True):
            if isinstance(result, FetchFailed):
                failures.append(result)
            elif isinstance(result, BaseException):
                raise result
            elif result is not None:
                postings += result
                boards.append(board)
        if failures and not boards:
            raise failures[0]
        return BoardPostings(tuple(postings), tuple(boards))
