"""The verifier against loopback DNS and SMTP servers: one DNS server and one mail farm for the
session (their counters reset per test), and a verifier server per test on a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.verifier.v1 import verifier_service_pb2_grpc as pb_grpc
from libs.mongo import Document
from libs.service import Service
from services.verifier.app import build_verifier, create_server
from services.verifier.settings import VerifierSettings
from services.verifier.verification import EmailVerifier
from tests import grpc_callers
from tests.services.verifier.mailservers import (
    CatchAll,
    Greylist,
    KnownMailboxes,
    LoopbackDns,
    MailboxFull,
    MailFarm,
    PolicyBlock,
    Records,
    SlowMailboxes,
)

KNOWN = [
    "alice@acme-corp.com",
    "bob@acme-corp.com",
    "info@acme-corp.com",
    "sales@acme-corp.com",
    "josé@acme-corp.com",
    "dana@fallback-corp.com",
    "gus@busy-corp.com",
    "erin@nomx-corp.com",
    "temp1@mailinator.com",
    "jane.doe@gmail.com",
    "frank@xn--nicode-corp-shb.com",
]
GREYLISTED_KNOWN = ["carol@greylist-corp.com", "dave@greylist-corp.com"]
GREYLIST_DELAY = 0.3
# Domains team<n>-corp.com, each with mailboxes a@ and b@, on one slow server.
TEAM_DOMAINS = [f"team{n}-corp.com" for n in range(1, 7)]
SLOW_KNOWN = [f"{local}@{domain}" for domain in TEAM_DOMAINS for local in ("a", "b")]


def build_farm() -> MailFarm:
    return MailFarm(
        {
            "mx-known": KnownMailboxes(KNOWN),
            "mx-catchall": CatchAll(),
            "mx-greylist": Greylist(GREYLISTED_KNOWN, delay=GREYLIST_DELAY),
            "mx-full": MailboxFull(),
            "mx-policy": PolicyBlock(),
            "mx-slow": SlowMailboxes(SLOW_KNOWN, delay=0.05),
            "mx-stall": "stall",
            "mx-refused": "refuse",
            "mx-busy": "busy",
        }
    )


def build_records(farm: MailFarm) -> Records:
    records: Records = {f"{name}.lmtest": {"A": [address]} for name, address in farm.addresses.items()}

    def mx(*targets: tuple[int, str]) -> dict[str, list[str]]:
        return {"MX": [f"{preference} {target}." for preference, target in targets]}

    records.update(
        {
            "acme-corp.com": mx((10, "mx-known.lmtest")),
            "xn--nicode-corp-shb.com": mx((10, "mx-known.lmtest")),
            "catchall-corp.com": mx((10, "mx-catchall.lmtest")),
            "greylist-corp.com": mx((10, "mx-greylist.lmtest")),
            "full-corp.com": mx((10, "mx-full.lmtest")),
            "blocked-corp.com": mx((10, "mx-policy.lmtest")),
            "stall-corp.com": mx((10, "mx-stall.lmtest")),
            "fallback-corp.com": mx((10, "mx-refused.lmtest"), (20, "mx-known.lmtest")),
            "deadend-corp.com": mx((10, "mx-refused.lmtest")),
            "busy-corp.com": mx((10, "mx-busy.lmtest"), (20, "mx-known.lmtest")),
            "nullmx-corp.com": {"MX": ["0 ."]},
            "nomx-corp.com": {"A": [farm.addresses["mx-known"]]},
            "nohost-corp.com": mx((10, "missing.lmtest")),
            "empty-corp.com": {"TXT": ['"v=spf1 -all"']},
            "private-corp.com": mx((10, "mx-private.lmtest")),
            "mx-private.lmtest": {"A": ["10.1.2.3"]},
            # IPv6 forms of loopback: IPv4-mapped and NAT64 (64:ff9b::/96).
            "mapped-corp.com": mx((10, "mx-mapped.lmtest")),
            "mx-mapped.lmtest": {"AAAA": ["::ffff:127.0.0.1"]},
            "nat64-corp.com": mx((10, "mx-nat64.lmtest")),
            "mx-nat64.lmtest": {"AAAA": ["64:ff9b::7f00:1"]},
            "dnsfail-corp.com": {"SERVFAIL": []},
            "mailinator.com": mx((10, "mx-known.lmtest")),
            "gmail.com": mx((10, "mx-known.lmtest")),
        }
    )
    records.update({domain: mx((10, "mx-slow.lmtest")) for domain in TEAM_DOMAINS})
    return records


@pytest_asyncio.fixture(scope="session")
async def session_farm() -> AsyncIterator[MailFarm]:
    farm = await build_farm().start()
    yield farm
    await farm.stop()


@pytest_asyncio.fixture(scope="session")
async def session_dns(session_farm: MailFarm) -> AsyncIterator[LoopbackDns]:
    server = await LoopbackDns(build_records(session_farm)).start()
    yield server
    await server.stop()


@pytest.fixture
def farm(session_farm: MailFarm) -> MailFarm:
    session_farm.reset()
    behaviour = session_farm.behaviours["mx-greylist"]
    assert isinstance(behaviour, Greylist)
    behaviour.first_seen.clear()
    return session_farm


@pytest.fixture
def dns_server(session_dns: LoopbackDns) -> LoopbackDns:
    session_dns.queries.clear()
    return session_dns


def verifier_settings(farm: MailFarm, dns_server: LoopbackDns, **overrides: Any) -> VerifierSettings:
    values: dict[str, Any] = {
        "dns_nameservers": dns_server.nameserver,
        "verifier_dns_timeout": 2.0,
        "verifier_smtp_port": farm.port,
        "verifier_helo_name": "verifier.lmtest",
        "verifier_mail_from": "probe@verifier.lmtest",
        "verifier_allow_private_mx": True,
        "verifier_connect_timeout": 0.5,
        "verifier_command_timeout": 1.0,
        "verifier_greylist_backoff": GREYLIST_DELAY + 0.1,
        "verifier_mx_rate": 1000.0,
        "shutdown_grace": 1.0,
    }
    values.update(overrides)
    return VerifierSettings(**values)


@dataclass
class RunningVerifier:
    stub: pb_grpc.VerifierServiceStub
    channel: grpc.aio.Channel
    address: str
    verifier: EmailVerifier


VerifierFactory = Callable[..., Awaitable[RunningVerifier]]


@pytest_asyncio.fixture
async def start_verifier(
    db: AsyncDatabase[Document], farm: MailFarm, dns_server: LoopbackDns
) -> AsyncIterator[VerifierFactory]:
    """``await start_verifier(**settings)``: a verifier server on a free port, and a stub to it."""
    started: list[tuple[Service, grpc.aio.Channel]] = []

    async def start(**overrides: Any) -> RunningVerifier:
        settings = verifier_settings(farm, dns_server, **overrides)
        verifier = await build_verifier(db, settings)
        service = await create_server(db, settings, "127.0.0.1:0", verifier)
        port = await service.start()
        channel = grpc_callers.channel(f"127.0.0.1:{port}")
        started.append((service, channel))
        return RunningVerifier(pb_grpc.VerifierServiceStub(channel), channel, f"127.0.0.1:{port}", verifier)

    yield start
    for service, channel in started:
        await channel.close()
        await service.stop()


@pytest_asyncio.fixture
async def verifier(start_verifier: VerifierFactory) -> pb_grpc.VerifierServiceStub:
    return (await start_verifier()).stub
