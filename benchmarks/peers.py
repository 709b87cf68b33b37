"""The outside world of the end-to-end benchmarks, on loopback, in one of three modes:

* ``instant``: every company's mail on one SMTP server, its homepage and job boards on one web
  server, all answering at once (the benchmarks' figures before issue 21).
* ``real-world``: what the Internet does (:class:`RealWorld`): homepages and job boards answer
  after a latency drawn per URL (log-normal around a median), a share of them never answers (the
  fetch times out), some domains do not exist (no DNS record; their websites refuse connections),
  some mail servers greylist (4xx to the first RCPT of a sender for a while) and some tarpit (the
  banner held for many seconds).
* ``offline``: nothing outside answers: DNS says NXDOMAIN for every name and every web request
  hangs until the fetch gives up (a machine whose outbound traffic is dropped, as in issue 21's
  measurement, where homepage and job-board fetches held enrichment for seconds).

Draws are deterministic (a hash of the URL or domain), so two runs meet the same world.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from libs.embedded_store import free_port
from services.demo_world import ByDomain, Greylist, KnownMailboxes, LoopbackDns, MailServer, Page, Web

if TYPE_CHECKING:
    from services.demo_world.tarpit import TarpitServer

__all__ = ["MODES", "Outside", "RealWorld", "outside_world"]

MODES = ("instant", "real-world", "offline")
# The loopback addresses of the mail and web servers (the ones the services may reach).
SITE = "127.0.0.2"
TARPIT_SITE = "127.0.0.3"
PAGE = "<html><head><script src='https://js.hs-scripts.com/1.js'></script></head></html>"


@dataclass(frozen=True)
class RealWorld:
    """The parameters of the real-world mode (issue 21's goals)."""

    web_median: float = 0.3  # homepages, seconds
    board_median: float = 0.15  # job-board APIs
    sigma: float = 0.8  # log-normal spread: p90 about 2.8 x the median
    timeout_share: float = 0.05  # URLs that never answer
    hang: float = 120.0  # how long such a URL holds the connection (past any fetch timeout)
    nxdomain_share: float = 0.03
    greylist_share: float = 0.10
    greylist_delay: float = 10.0  # seconds a greylister defers a new (client, sender, recipient)
    tarpit_share: float = 0.05
    tarpit_banner: float = 20.0  # seconds the tarpit holds its banner (10-30 s in the wild)

    def describe(self) -> str:
        return (
            f"web median {self.web_median * 1000:.0f} ms, boards median {self.board_median * 1000:.0f} ms, "
            f"{self.timeout_share:.0%} timeouts, {self.nxdomain_share:.0%} NXDOMAIN, "
            f"{self.greylist_share:.0%} greylisting ({self.greylist_delay:.0f} s, verifier back-off "
            f"{self.greylist_delay + 2:.0f} s), "
            f"{self.tarpit_share:.0%} tarpits ({self.tarpit_banner:.0f} s banner)"
        )


def draw(*parts: str) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    return zlib.crc32("|".join(parts).encode()) / 2**32


class LatentPages(dict[str, Page]):
    """Pages whose answers come after ``latency(path)`` seconds (what :class:`Web` serves from)."""

    def __init__(self, latency: Callable[[str], float]) -> None:
        super().__init__()
        self.latency = latency

    def get(self, path: str, default: Page | None = None) -> Page | None:  # type: ignore[override]
        page = super().get(path, default)
        return replace(page, delay=self.latency(path)) if page is not None else None


def _latency(world: RealWorld) -> Callable[[str], float]:
    def latency(path: str) -> float:
        if draw("timeout", path) < world.timeout_share:
            return world.hang
        median = world.web_median if path.startswith("/site/") else world.board_median
        # a standard normal from two fixed draws (Box-Muller)
        u1, u2 = max(draw("a", path), 1e-9), draw("b", path)
        normal = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
        return median * math.exp(world.sigma * normal)

    return latency


@dataclass
class Outside:
    mode: str
    description: str
    env: dict[str, str]
    mail: MailServer
    web: Web
    dns: LoopbackDns
    tarpit: TarpitServer | None = None
    greylisted: set[str] = field(default_factory=set)
    tarpitted: set[str] = field(default_factory=set)
    nxdomain: set[str] = field(default_factory=set)


@asynccontextmanager
async def outside_world(
    mode: str, domains: Iterable[str], mailboxes: Iterable[str], world: RealWorld | None = None
) -> AsyncIterator[Outside]:
    """The servers of ``mode`` for the companies of ``domains`` (whose people have ``mailboxes``;
    every fourth company's mail server takes any address), and the settings pointing the services
    at them."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    world = world or RealWorld()
    domains = sorted(domains)
    known = {m.lower() for m in mailboxes}
    catch_all = set(domains[::4])

    def exists(address: str) -> bool:
        address = address.lower()
        return address in known or address.rpartition("@")[2] in catch_all

    real = mode == "real-world"
    nxdomain = {d for d in domains if real and draw("nx", d) < world.nxdomain_share}
    greylisted = {d for d in domains if real and d not in nxdomain and draw("grey", d) < world.greylist_share}
    tarpitted = {
        d
        for d in domains
        if real and d not in nxdomain | greylisted and draw("tarpit", d) < world.tarpit_share
    }
    greylist = Greylist((), world.greylist_delay)
    greylist.exists = exists
    default = KnownMailboxes(exists=exists)
    behaviour = ByDomain(dict.fromkeys(greylisted, greylist), default)
    mail, tarpit = await _mail_servers(behaviour, world.tarpit_banner if tarpitted else None)
    web = Web(SITE)
    if real:
        web.pages = LatentPages(_latency(world))
    elif mode == "offline":
        web.pages = LatentPages(lambda path: world.hang)
    for domain in domains:
        web.pages[f"/site/{domain}/"] = Page.html(PAGE)
    web.pages["/site/"] = Page.html(PAGE)
    await web.start()
    closed = f"http://{SITE}:{free_port(SITE)}"  # nothing listens there: connections are refused
    records: dict[str, dict[str, list[str]]] = {}
    if mode != "offline":
        records = {"mx.lmtest": {"A": [SITE]}, "mx-tarpit.lmtest": {"A": [TARPIT_SITE]}}
        for domain in domains:
            if domain not in nxdomain:
                host = "mx-tarpit.lmtest" if domain in tarpitted else "mx.lmtest"
                records[domain] = {"MX": [f"10 {host}."]}
    dns = await LoopbackDns(records).start()
    if mode == "instant":
        homepages = {d: web.url("/site/") for d in domains}
    else:
        homepages = {d: f"{closed}/" if d in nxdomain else web.url(f"/site/{d}/") for d in domains}
    boards = web.url("")
    env = {
        "LEADMESH_DNS_NAMESERVERS": dns.nameserver,
        "LEADMESH_VERIFIER_SMTP_PORT": str(mail.port),
        "LEADMESH_VERIFIER_ALLOW_PRIVATE_MX": "true",
        "LEADMESH_VERIFIER_MX_RATE": "100000",
        "LEADMESH_VERIFIER_HELO_NAME": "bench.lmtest",
        "LEADMESH_VERIFIER_MAIL_FROM": "probe@bench.lmtest",
        "LEADMESH_INTENT_HOMEPAGE_OVERRIDES": json.dumps(homepages),
        "LEADMESH_INTENT_GREENHOUSE_BASE_URL": f"{boards}/greenhouse",
        "LEADMESH_INTENT_LEVER_BASE_URL": f"{boards}/lever",
        "LEADMESH_INTENT_ALLOWED_NETWORKS": json.dumps([f"{SITE}/32"]),
    }
    if real:  # the verifier comes back to greylisters when these ones let a sender in (its default: 300 s)
        env["LEADMESH_VERIFIER_GREYLIST_BACKOFF"] = str(world.greylist_delay + 2)
    description = {
        "instant": "loopback peers answering at once",
        "real-world": world.describe(),
        "offline": "every outside source unreachable: DNS NXDOMAIN, web requests never answered",
    }[mode]
    outside = Outside(mode, description, env, mail, web, dns, tarpit, greylisted, tarpitted, nxdomain)
    try:
        yield outside
    finally:
        await dns.stop()
        await web.stop()
        await mail.stop()
        if tarpit is not None:
            await tarpit.stop()


async def _mail_servers(
    behaviour: ByDomain, tarpit_banner: float | None
) -> tuple[MailServer, TarpitServer | None]:
    """The mail server on SITE and, when asked, a tarpit on TARPIT_SITE at the same port (the
    verifier speaks to every MX host on one port)."""
    for _ in range(20):
        mail = await MailServer(behaviour, host=SITE, hostname="mx.lmtest").start()
        if tarpit_banner is None:
            return mail, None
        # Imported here: the offline and instant modes also run on revisions older than it.
        from services.demo_world.tarpit import TarpitServer

        try:
            tarpit = await TarpitServer(TARPIT_SITE, mail.port, banner_delay=tarpit_banner).start()
        except OSError:
            await mail.stop()
            continue
        return mail, tarpit
    raise RuntimeError("no port free on both mail addresses")
