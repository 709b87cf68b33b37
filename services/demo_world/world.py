"""The demo world: DNS, mail and web servers on loopback for the demo directory's domains, and
the settings that point the services at them (``leadmesh up --demo``).

Mail, by the company's place in the directory's domain order (one in twenty each): most domains
keep the mailboxes of the people listed there and their team addresses, and refuse any other
(550); some accept any address (catch-all); one greylists every sender (451, so its addresses stay
unknown); one has lapsed (no DNS: NXDOMAIN). Of the listed people, a few have left (550) and a
few have a full mailbox (452). The disposable-mail service knows the addresses people gave there.
So every email verdict kind comes out of the real verifier (:attr:`DemoWorld.examples` has one
address of each). The web server has every company's homepage and job board
(:mod:`services.demo_world.sites`).

DNS answers for ``.example`` names only (REFUSED for the rest: the demo world is not the
Internet, and a real domain looked up in demo mode fails to resolve instead of being cached as
non-existent).
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from libs.mongo import Document, utc_now
from services.demo_world.dns import LoopbackDns, Records
from services.demo_world.mail import (
    ByDomain,
    CatchAll,
    Greylist,
    KnownMailboxes,
    MailBehaviour,
    MailboxFull,
    MailServer,
)
from services.demo_world.sites import GREENHOUSE, board_document, homepage, openings
from services.demo_world.web import Page, Web
from services.providers.demo import DEMO_TLD, DISPOSABLE_DOMAIN, ROLE_MAILBOXES, DemoDirectory

__all__ = [
    "MAX_COMPANIES",
    "MX_HOST",
    "VERDICT_KINDS",
    "DemoWorld",
    "MailPlan",
    "loopback_host",
    "verdict_examples",
]

MX_HOST = f"mx.mail.{DEMO_TLD}"
VERDICT_KINDS = ("valid", "invalid", "risky", "catch-all", "disposable", "role-based", "unknown")
# The companies' homepages travel to intent in one environment variable (at most 128 KiB on Linux).
MAX_COMPANIES = 1000
# A greylisting server that never lets a sender through while the demo runs.
_FOREVER = 10 * 365 * 86400.0


def loopback_host() -> str:
    """127.0.0.2 where it can be bound (Linux routes 127/8 to the loopback interface), so that
    allowing the world's address to intent allows nothing else of this machine; else 127.0.0.1."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            return "127.0.0.1"
    return "127.0.0.2"


def _share(text: str, out_of: int) -> int:
    """A stable pseudo-random number in ``range(out_of)`` for ``text``."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big") % out_of


@dataclass(frozen=True)
class MailPlan:
    """Which addresses the world's mail server takes, and how."""

    domains: tuple[str, ...]  # every domain the DNS answers for (MX)
    mailboxes: frozenset[str]  # addresses that exist
    catch_all: frozenset[str]  # domains taking any address
    greylisting: frozenset[str]  # domains deferring every address
    lapsed: frozenset[str]  # company domains with no DNS at all
    full: frozenset[str]  # mailboxes that exist but are full
    gone: frozenset[str]  # listed addresses whose mailbox no longer exists

    @classmethod
    def of(cls, directory: DemoDirectory) -> MailPlan:
        companies = sorted(str(company["domain"]) for company in directory.companies)
        kind = {domain: index % 20 for index, domain in enumerate(companies)}
        catch_all = {domain for domain in companies if kind[domain] in (1, 6, 11, 16)}
        greylisting = {domain for domain in companies if kind[domain] == 3}
        lapsed = {domain for domain in companies if kind[domain] == 8}
        listed = sorted({str(p["email"]).lower() for p in directory.people if p.get("email")})
        personal = [
            email
            for email in listed
            if email.rpartition("@")[2] not in catch_all | greylisting | lapsed
            and email.partition("@")[0] not in ROLE_MAILBOXES
        ]
        gone = {email for email in personal if _share(email, 40) == 0}
        full = {email for email in personal if _share(email, 40) == 1}
        return cls(
            domains=tuple(sorted({*companies, DISPOSABLE_DOMAIN} - lapsed)),
            mailboxes=frozenset(set(listed) - gone),
            catch_all=frozenset(catch_all),
            greylisting=frozenset(greylisting),
            lapsed=frozenset(lapsed),
            full=frozenset(full),
            gone=frozenset(gone),
        )

    def behaviour(self) -> ByDomain:
        """The mail server's answers: a full mailbox says so, then each domain as its kind."""
        known = KnownMailboxes(self.mailboxes)
        domains: dict[str, MailBehaviour] = {domain: CatchAll() for domain in self.catch_all}
        domains.update({domain: Greylist(self.mailboxes, _FOREVER) for domain in self.greylisting})
        full = MailboxFull()
        return ByDomain(domains, known, dict.fromkeys(self.full, full))

    def records(self, mail_host_address: str) -> Records:
        records: Records = {MX_HOST: {"A": [mail_host_address]}}
        records.update({domain: {"MX": [f"10 {MX_HOST}."]} for domain in self.domains})
        return records


class DemoWorld:
    """``await DemoWorld(directory).start()``, then :meth:`service_env` for the services."""

    def __init__(self, directory: DemoDirectory, host: str | None = None, now: datetime | None = None):
        if len(directory.companies) > MAX_COMPANIES:
            raise ValueError(f"the demo world serves at most {MAX_COMPANIES} companies")
        self.directory = directory
        self.host = host or loopback_host()
        self.now = now or utc_now()
        self.plan = MailPlan.of(directory)
        self.dns = LoopbackDns(self.plan.records(self.host), host=self.host, zone=DEMO_TLD)
        self.mail = MailServer(self.plan.behaviour(), host=self.host, hostname=MX_HOST)
        self.web = Web(self.host)
        self.sites: list[str] = []  # domains with a homepage
        self.hiring: dict[str, int] = {}  # domain -> openings on its board
        for company in directory.companies:
            self._publish(company)

    def _publish(self, company: Document) -> None:
        domain = str(company["domain"])
        if domain in self.plan.lapsed:
            return
        page = homepage(company)
        self.sites.append(domain)
        self.web.pages[f"/sites/{domain}/"] = Page.html(page.html, page.headers, cookies=page.cookies)
        board, jobs = openings(company, self.now)
        if jobs:
            handle = domain.split(".", 1)[0]
            path = f"/greenhouse/v1/boards/{handle}/jobs?content=true"
            if board != GREENHOUSE:
                path = f"/lever/v0/postings/{handle}?mode=json"
            self.web.pages[path] = Page.json(board_document(board, jobs))
            self.hiring[domain] = len(jobs)

    async def start(self) -> DemoWorld:
        await self.dns.start()
        await self.mail.start()
        await self.web.start()
        return self

    async def stop(self) -> None:
        await self.web.stop()
        await self.mail.stop()
        await self.dns.stop()

    def service_env(self) -> dict[str, str]:
        """``LEADMESH_`` settings pointing the verifier and intent at the world (ports known once
        started)."""
        homepages = {domain: self.web.url(f"/sites/{domain}/") for domain in self.sites}
        return {
            "LEADMESH_DNS_NAMESERVERS": self.dns.nameserver,
            "LEADMESH_VERIFIER_SMTP_PORT": str(self.mail.port),
            "LEADMESH_VERIFIER_ALLOW_PRIVATE_MX": "true",
            "LEADMESH_VERIFIER_DISPOSABLE_DOMAINS": json.dumps([DISPOSABLE_DOMAIN]),
            # One loopback server stands for every demo company's mail server.
            "LEADMESH_VERIFIER_MX_RATE": "1000",
            "LEADMESH_VERIFIER_MX_CONCURRENCY": "16",
            "LEADMESH_INTENT_HOMEPAGE_OVERRIDES": json.dumps(homepages),
            "LEADMESH_INTENT_GREENHOUSE_BASE_URL": self.web.url("/greenhouse"),
            "LEADMESH_INTENT_LEVER_BASE_URL": self.web.url("/lever"),
            "LEADMESH_INTENT_ALLOWED_NETWORKS": json.dumps([f"{self.host}/32"]),
        }

    @property
    def examples(self) -> dict[str, str]:
        """One listed address per email verdict kind the verifier gives against this world."""
        return verdict_examples(self.directory, self.plan)


def verdict_examples(directory: DemoDirectory, plan: MailPlan) -> dict[str, str]:
    """One listed address per email verdict kind the verifier gives against the world of
    ``directory`` (mailboxes as ``plan`` has them)."""
    people = sorted(str(p["email"]).lower() for p in directory.people if p.get("email"))

    def first(addresses: Iterable[str], what: str) -> str:
        for address in addresses:
            return address
        raise LookupError(f"this directory has no {what}")

    def domain(address: str) -> str:
        return address.rpartition("@")[2]

    regular = [a for a in people if domain(a) not in plan.catch_all | plan.greylisting | plan.lapsed]
    personal = [
        a for a in regular if domain(a) != DISPOSABLE_DOMAIN and a.split("@")[0] not in ROLE_MAILBOXES
    ]
    return {
        "valid": first((a for a in personal if a in plan.mailboxes - plan.full), "mailbox"),
        "invalid": first(sorted(plan.gone), "former employee"),
        "risky": first(sorted(plan.full), "full mailbox"),
        "catch-all": first((a for a in people if domain(a) in plan.catch_all), "catch-all domain"),
        "disposable": first((a for a in regular if domain(a) == DISPOSABLE_DOMAIN), "disposable address"),
        "role-based": first((a for a in regular if a.split("@")[0] in ROLE_MAILBOXES), "team address"),
        "unknown": first((a for a in people if domain(a) in plan.greylisting), "greylisting domain"),
    }
