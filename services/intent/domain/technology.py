"""Technologies a homepage shows, and the signals they make.

The fingerprints live in ``services/intent/data/technologies.toml``. A page is reduced to
:class:`PageFacts` (script sources, generator tags, headers, cookie names, source text), matched
against every fingerprint, and each technology found becomes a :class:`Sighting` remembered with
when it was first seen. A sighting becomes ``adopted_<slug>``; one of the account's ICP competitors
becomes ``evaluated_competitor`` when it appeared since the company's first scan (recently, within
the evaluation window), else ``uses_competitor``.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from importlib import resources

from services.intent.domain.signals import Category, Signal

__all__ = [
    "CATEGORY_LABELS",
    "Detection",
    "Fingerprint",
    "PageFacts",
    "Sighting",
    "TechnologyCatalog",
    "default_catalog",
    "extract_page",
    "merge_sightings",
    "technology_signals",
]

SOURCE = "homepage"
CATEGORY_LABELS = {
    "crm": "CRM",
    "marketing_automation": "marketing automation",
    "sales_engagement": "sales engagement",
    "analytics": "analytics",
    "chat": "chat",
    "payments": "payments",
    "cms": "CMS",
}
# Strength of adopting a technology of each category, just now.
CATEGORY_STRENGTH = {
    "crm": 60,
    "marketing_automation": 60,
    "sales_engagement": 65,
    "analytics": 35,
    "chat": 45,
    "payments": 40,
    "cms": 25,
}
EVALUATED_COMPETITOR_STRENGTH = 85
USES_COMPETITOR_STRENGTH = 60
MAX_EVIDENCE = 4


def _patterns(values: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(value, re.IGNORECASE) for value in values)


@dataclass(frozen=True)
class Fingerprint:
    slug: str
    name: str
    category: str
    domains: tuple[str, ...] = ()
    script_src: tuple[re.Pattern[str], ...] = ()
    meta_generator: tuple[re.Pattern[str], ...] = ()
    headers: Mapping[str, re.Pattern[str] | None] = field(default_factory=dict)
    cookies: tuple[re.Pattern[str], ...] = ()
    html: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_table(cls, table: Mapping[str, object]) -> Fingerprint:
        def strings(key: str) -> list[str]:
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"technology {table.get('slug')!r}: {key} must be a list of strings")
            return value

        slug, name, category = (str(table[key]) for key in ("slug", "name", "category"))
        if category not in CATEGORY_LABELS:
            raise ValueError(f"technology {slug!r}: unknown category {category!r}")
        headers = table.get("headers", {})
        if not isinstance(headers, dict):
            raise ValueError(f"technology {slug!r}: headers must be a table")
        return cls(
            slug=slug,
            name=name,
            category=category,
            domains=tuple(domain.lower() for domain in strings("domains")),
            script_src=_patterns(strings("script_src")),
            meta_generator=_patterns(strings("meta_generator")),
            headers={
                str(k).lower(): re.compile(str(v), re.IGNORECASE) if v else None for k, v in headers.items()
            },
            cookies=_patterns(strings("cookies")),
            html=_patterns(strings("html")),
        )


@dataclass(frozen=True)
class PageFacts:
    """What a fetched homepage shows: the parts fingerprints look at."""

    scripts: tuple[str, ...] = ()
    generators: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: tuple[str, ...] = ()
    html: str = ""


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.generators: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        if tag in ("script", "iframe") and values.get("src"):
            self.scripts.append(values["src"].strip())
        elif tag == "meta" and values.get("name", "").lower() == "generator":
            self.generators.append(values.get("content", "").strip())


def extract_page(body: str, headers: Mapping[str, str], cookies: Iterable[str]) -> PageFacts:
    parser = _PageParser()
    parser.feed(body)
    parser.close()
    return PageFacts(
        scripts=tuple(parser.scripts),
        generators=tuple(parser.generators),
        headers={name.lower(): value for name, value in headers.items()},
        cookies=tuple(cookies),
        html=body,
    )


@dataclass(frozen=True)
class Detection:
    slug: str
    name: str
    category: str
    # What gave it away, e.g. "script https://js.hs-scripts.com/123.js".
    evidence: tuple[str, ...]


def _clip(text: str, size: int = 200) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _evidence(fingerprint: Fingerprint, page: PageFacts) -> list[str]:
    found: list[str] = []
    found += [
        f"script {_clip(src)}" for src in page.scripts if any(p.search(src) for p in fingerprint.script_src)
    ]
    found += [
        f"meta generator {_clip(value)}"
        for value in page.generators
        if any(p.search(value) for p in fingerprint.meta_generator)
    ]
    for header, pattern in fingerprint.headers.items():
        value = page.headers.get(header)
        if value is not None and (pattern is None or pattern.search(value)):
            found.append(f"header {header}")
    found += [
        f"cookie {name}" for name in page.cookies if any(p.fullmatch(name) for p in fingerprint.cookies)
    ]
    for pattern in fingerprint.html:
        match = pattern.search(page.html)
        if match:
            found.append(f"html {_clip(match.group(0), 80)}")
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class TechnologyCatalog:
    fingerprints: tuple[Fingerprint, ...]

    @classmethod
    def from_toml(cls, text: str) -> TechnologyCatalog:
        tables = tomllib.loads(text).get("technology", [])
        catalog = cls(tuple(Fingerprint.from_table(table) for table in tables))
        slugs = [f.slug for f in catalog.fingerprints]
        if len(set(slugs)) != len(slugs):
            raise ValueError("technology slugs must be unique")
        return catalog

    @functools.cached_property
    def by_slug(self) -> dict[str, Fingerprint]:
        return {f.slug: f for f in self.fingerprints}

    def detect(self, page: PageFacts) -> list[Detection]:
        detections = []
        for fingerprint in self.fingerprints:
            evidence = _evidence(fingerprint, page)
            if evidence:
                detections.append(
                    Detection(
                        fingerprint.slug,
                        fingerprint.name,
                        fingerprint.category,
                        tuple(evidence[:MAX_EVIDENCE]),
                    )
                )
        return detections

    def competitor_terms(self, competitors: Iterable[str]) -> dict[str, str]:
        """slug -> the ICP competitor entry (a name, slug or domain) naming that technology."""
        terms: dict[str, str] = {}
        for entry in competitors:
            term = entry.strip().casefold()
            if not term:
                continue
            for fingerprint in self.fingerprints:
                names = {fingerprint.slug, fingerprint.name.casefold(), fingerprint.slug.replace("_", " ")}
                domains = set(fingerprint.domains) | {d.split(".", 1)[0] for d in fingerprint.domains}
                host = term.removeprefix("https://").removeprefix("http://").removeprefix("www.").rstrip("/")
                if term in names or host in domains:
                    terms.setdefault(fingerprint.slug, entry.strip())
        return terms


@functools.cache
def default_catalog() -> TechnologyCatalog:
    """The fingerprints kept in the repository."""
    text = resources.files("services.intent").joinpath("data/technologies.toml").read_text("utf-8")
    return TechnologyCatalog.from_toml(text)


@dataclass(frozen=True)
class Sighting:
    """A technology seen on a company's homepage: first seen, and seen again at the latest scan."""

    slug: str
    name: str
    category: str
    evidence: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime


def merge_sightings(
    detections: Sequence[Detection], first_seen: Mapping[str, datetime], now: datetime
) -> list[Sighting]:
    """This scan's detections, each keeping the date it was first seen in an earlier scan."""
    return [
        Sighting(d.slug, d.name, d.category, d.evidence, first_seen.get(d.slug, now), now) for d in detections
    ]


def _competitor_signal(
    name: str, sightings: list[tuple[Sighting, str]], strength: int, observed: datetime
) -> Signal:
    evidence: list[str] = []
    for sighting, term in sightings:
        evidence.append(f"{sighting.name} (competitor: {term})")
        evidence += sighting.evidence[:2]
    return Signal(name, Category.TECHNOLOGY, strength, observed, SOURCE, tuple(evidence), len(sightings))


def technology_signals(
    sightings: Sequence[Sighting],
    competitor_terms: Mapping[str, str],
    baseline_time: datetime | None,
    evaluation_window: timedelta,
    now: datetime,
) -> list[Signal]:
    """``adopted_<slug>`` per technology; a competitor's makes ``evaluated_``/``uses_competitor``.

    ``baseline_time`` is the company's first scan: what was there already cannot be told apart
    from an old habit, so only a competitor that appeared later, within ``evaluation_window`` of
    now, counts as being evaluated.
    """
    signals: list[Signal] = []
    evaluated: list[tuple[Sighting, str]] = []
    used: list[tuple[Sighting, str]] = []
    for sighting in sightings:
        term = competitor_terms.get(sighting.slug)
        if term is not None:
            new = baseline_time is not None and sighting.first_seen > baseline_time
            (evaluated if new and now - sighting.first_seen <= evaluation_window else used).append(
                (sighting, term)
            )
            continue
        label = CATEGORY_LABELS.get(sighting.category, sighting.category)
        signals.append(
            Signal(
                name=f"adopted_{sighting.slug}",
                category=Category.TECHNOLOGY,
                base_strength=CATEGORY_STRENGTH.get(sighting.category, 30),
                observed_time=sighting.first_seen,
                source=SOURCE,
                evidence=(f"{sighting.name} ({label})", *sighting.evidence),
            )
        )
    if evaluated:
        since = max(sighting.first_seen for sighting, _ in evaluated)
        signals.append(
            _competitor_signal("evaluated_competitor", evaluated, EVALUATED_COMPETITOR_STRENGTH, since)
        )
    if used:
        seen = max(sighting.last_seen for sighting, _ in used)
        signals.append(_competitor_signal("uses_competitor", used, USES_COMPETITOR_STRENGTH, seen))
    return signals
