"""Which mail host addresses the verifier may connect to, over a loopback DNS server: IPv6 forms
of loopback and private addresses (IPv4-mapped, NAT64, 6to4, IPv4-compatible) are not used."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from services.verifier.domain import DomainOutcome, MailHost
from services.verifier.resolver import MailRouteResolver
from tests.services.verifier.mailservers import LoopbackDns

LOOPBACK_AAAA = {
    "mapped": "::ffff:127.0.0.1",
    "nat64": "64:ff9b::7f00:1",
    "sixtofour": "2002:a00:1::1",
    "compatible": "::127.0.0.1",  # ::7f00:1, written as dnspython writes it
}
PUBLIC_A = "192.0.0.9"  # global (RFC 7723), and never connected to: these tests only resolve


@pytest_asyncio.fixture
async def dns() -> AsyncIterator[LoopbackDns]:
    records = {f"{name}.example": {"MX": [f"10 mx.{name}.example."]} for name in LOOPBACK_AAAA}
    records.update({f"mx.{name}.example": {"AAAA": [aaaa]} for name, aaaa in LOOPBACK_AAAA.items()})
    records["mixed.example"] = {"MX": ["10 mx.mixed.example."]}
    records["mx.mixed.example"] = {"A": [PUBLIC_A], "AAAA": list(LOOPBACK_AAAA.values())}
    server = await LoopbackDns(records).start()
    yield server
    await server.stop()


def resolver(dns: LoopbackDns, allow_private: bool) -> MailRouteResolver:
    return MailRouteResolver([(dns.host, dns.port)], 2.0, allow_private=allow_private)


@pytest.mark.parametrize("name", LOOPBACK_AAAA)
async def test_an_mx_whose_aaaa_is_loopback_in_ipv6_form_is_not_used(dns: LoopbackDns, name: str) -> None:
    route = await resolver(dns, allow_private=False).resolve(f"{name}.example")
    assert (route.outcome, route.hosts) == (DomainOutcome.NON_PUBLIC_MX, ())
    assert LOOPBACK_AAAA[name] in route.detail


async def test_only_the_public_address_of_a_mixed_mx_is_kept(dns: LoopbackDns) -> None:
    route = await resolver(dns, allow_private=False).resolve("mixed.example")
    assert route.outcome is DomainOutcome.ROUTABLE
    assert route.hosts == (MailHost("mx.mixed.example", 10, (PUBLIC_A,)),)


async def test_allowing_private_mx_keeps_every_address(dns: LoopbackDns) -> None:
    route = await resolver(dns, allow_private=True).resolve("mixed.example")
    assert route.outcome is DomainOutcome.ROUTABLE
    [host] = route.hosts
    assert (host.name, host.addresses[0]) == ("mx.mixed.example", PUBLIC_A)
    assert set(host.addresses[1:]) == set(LOOPBACK_AAAA.values())
