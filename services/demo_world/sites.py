"""What the demo companies publish on the web: a homepage showing the technologies the directory
says they use, and for some a job board (Greenhouse- or Lever-shaped) with openings.

The homepages show each technology the way the intent service's catalog
(``services/intent/data/technologies.toml``) recognises it without naming a real host: a header,
a cookie, a generator tag or an inline script. Technologies a visitor cannot see (a data
warehouse, a cloud) are not shown, as on a real site. Everything is a pure function of the
company record, its position and the time the world started.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["VISIBLE_TECHNOLOGIES", "Homepage", "Opening", "board_document", "homepage", "openings"]

GREENHOUSE = "greenhouse"
LEVER = "lever"


@dataclass(frozen=True)
class _Shown:
    html: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: tuple[str, ...] = ()


# The directory's technology names (services.providers.demo) -> how a homepage shows them.
_SHOWN = {
    "HubSpot": _Shown(headers={"X-HS-Hub-Id": "4242"}),
    "Salesforce": _Shown(html="<script>embedded_svc.init('demo');</script>"),
    "Marketo": _Shown(html="<script>Munchkin.init('424-DEM-042');</script>"),
    "Intercom": _Shown(html="<script>window.intercomSettings = {app_id: 'demo'};</script>"),
    "Segment": _Shown(cookies=("ajs_anonymous_id=demo",)),
    "Zendesk": _Shown(cookies=("__zlcmid=demo",)),
    "Stripe": _Shown(cookies=("__stripe_mid=demo",)),
    "Shopify": _Shown(headers={"X-Shopify-Stage": "production"}),
}
VISIBLE_TECHNOLOGIES = frozenset(_SHOWN)
# Every site is built with something: a generator tag the catalog knows.
_GENERATORS = ("WordPress 6.5.2", "Webflow", "Drupal 10", "Ghost 5.82")
_GOOGLE_ANALYTICS = "<script>gtag('config', 'G-DEMO4242');</script>"
# Openings by kind, titles the title normaliser files under a department.
_OPENINGS = (
    ("Revenue Operations Manager", "Sales"),
    ("Account Executive", "Sales"),
    ("Sales Development Representative", "Sales"),
    ("Demand Generation Manager", "Marketing"),
    ("Senior Software Engineer", "Engineering"),
    ("Customer Success Manager", "Customer Success"),
    ("Sales Operations Analyst", "Sales"),
    ("Product Manager", "Product"),
    ("Data Engineer", "Engineering"),
    ("Product Marketing Manager", "Marketing"),
    ("Technical Recruiter", "People"),
    ("Financial Analyst", "Finance"),
)
_LOCATIONS = ("Remote", "New York", "London", "Berlin", "Paris", "Madrid")


def _hash(*parts: str) -> int:
    """A stable pseudo-random number for ``parts``."""
    return int.from_bytes(hashlib.blake2b("|".join(parts).encode(), digest_size=4).digest(), "big")


@dataclass(frozen=True)
class Homepage:
    html: str
    headers: dict[str, str]
    cookies: list[str]


def homepage(company: Mapping[str, Any]) -> Homepage:
    """The homepage of a directory company (its ``name``, ``domain``, ``industry``, ``technologies``)."""
    domain = str(company["domain"])
    shown = [_SHOWN[name] for name in company.get("technologies") or () if name in _SHOWN]
    generator = _GENERATORS[_hash(domain, "cms") % len(_GENERATORS)]
    scripts = [item.html for item in shown if item.html]
    if _hash(domain, "ga") % 2:
        scripts.append(_GOOGLE_ANALYTICS)
    name = html.escape(str(company.get("name") or domain))
    industry = html.escape(str(company.get("industry") or ""))
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{name}</title>'
        f'<meta name="generator" content="{generator}">{"".join(scripts)}</head>'
        f"<body><h1>{name}</h1><p>{industry}</p>"
        "<p>A company of the leadmesh demo world (loopback only).</p></body></html>"
    )
    headers = {key: value for item in shown for key, value in item.headers.items()}
    return Homepage(page, headers, [cookie for item in shown for cookie in item.cookies])


@dataclass(frozen=True)
class Opening:
    title: str
    department: str
    location: str
    posted_time: datetime
    url: str


def openings(company: Mapping[str, Any], now: datetime) -> tuple[str, list[Opening]]:
    """(board, openings): the board the company posts on (``greenhouse`` or ``lever``) and its open
    jobs, posted over the last six weeks; no openings for about four companies in ten."""
    domain = str(company["domain"])
    seed = _hash(domain, "jobs")
    board = GREENHOUSE if seed % 2 else LEVER
    if seed % 10 < 4:
        return board, []
    found = []
    for n in range(1 + seed % 4):
        title, department = _OPENINGS[(seed // 7 + 5 * n) % len(_OPENINGS)]
        found.append(
            Opening(
                title=title,
                department=department,
                location=_LOCATIONS[(seed + n) % len(_LOCATIONS)],
                posted_time=now - timedelta(days=1 + (seed // 13 + 11 * n) % 42),
                url=f"https://{domain}/careers/{1000 + n}",
            )
        )
    return board, found


def board_document(board: str, jobs: list[Opening]) -> Any:
    """The board API's answer, as :mod:`services.intent.sources.boards` reads it."""
    if board == GREENHOUSE:
        return {
            "jobs": [
                {
                    "id": 4_240_000 + n,
                    "title": job.title,
                    "updated_at": job.posted_time.isoformat(timespec="seconds"),
                    "first_published": job.posted_time.isoformat(timespec="seconds"),
                    "location": {"name": job.location},
                    "departments": [{"name": job.department}],
                    "absolute_url": job.url,
                }
                for n, job in enumerate(jobs)
            ],
            "meta": {"total": len(jobs)},
        }
    return [
        {
            "id": f"demo-{n}",
            "text": job.title,
            "createdAt": int(job.posted_time.timestamp() * 1000),
            "categories": {"team": job.department, "location": job.location, "commitment": "Full-time"},
            "hostedUrl": job.url,
        }
        for n, job in enumerate(jobs)
    ]
