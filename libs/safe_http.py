"""Outbound HTTP to addresses users give us (company homepages, webhooks, provider URLs), without
letting them reach our own network.

Every connection the client opens, redirects included, goes through :class:`GuardedBackend`: the
host is resolved once, each address is checked against the :class:`OutboundPolicy`, and the
connection is made to the checked address (so a DNS answer cannot change between check and
use). TLS still verifies the certificate against the host name. Loopback, private, link-local
(cloud metadata at 169.254.169.254), multicast and reserved addresses are refused unless a
network of the policy allows them; tests allow the loopback addresses of their own servers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
from httpcore._backends.auto import AutoBackend

from libs.errors import InvalidArgument, PermissionDenied

__all__ = [
    "FetchedPage",
    "GuardedBackend",
    "OutboundPolicy",
    "ResponseTooLarge",
    "UnsafeDestination",
    "check_url",
    "fetch_limited",
    "guarded_client",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeDestination(PermissionDenied):
    """A URL whose host is, or resolves to, an address we do not connect to."""

    default_reason = "UNSAFE_URL"


class ResponseTooLarge(InvalidArgument):
    default_reason = "RESPONSE_TOO_LARGE"


@dataclass(frozen=True)
class OutboundPolicy:
    """Public addresses are allowed; other addresses only inside ``allowed_networks``."""

    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> OutboundPolicy:
        return cls(tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip()))

    def allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return True
        return address.is_global and not address.is_multicast


def check_url(url: str) -> httpx.URL:
    """A URL we may fetch: http(s), a host, no credentials. Addresses are checked on connect."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise InvalidArgument(f"not a valid URL: {url[:200]!r}", reason="INVALID_URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgument(
            f"only http(s) URLs with a host are fetched: {url[:200]!r}", reason="INVALID_URL"
        )
    if parsed.userinfo:
        raise InvalidArgument("URLs with credentials are not fetched", reason="INVALID_URL")
    return parsed


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address."""

    def __init__(self, policy: OutboundPolicy):
        self.policy = policy
        self._inner = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self._checked_address(host, port)
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def _checked_address(self, host: str, port: int) -> str:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise httpcore.ConnectError(f"cannot resolve {host}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        refused = [a for a in addresses if not self.policy.allows(a)]
        if refused:
            raise UnsafeDestination(f"{host} resolves to a non-public address ({refused[0]}); not connecting")
        return str(addresses[0])

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise UnsafeDestination("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(
    policy: OutboundPolicy, *, timeout: float = 10.0, max_redirects: int = 5, **client_options: Any
) -> httpx.AsyncClient:
    """A long-lived client whose every connection obeys ``policy``; redirects are followed."""
    transport = httpx.AsyncHTTPTransport(retries=0)
    transport._pool = httpcore.AsyncConnectionPool(  # the only way to give httpx a network backend
        ssl_context=httpx.create_ssl_context(),
        max_connections=client_options.pop("max_connections", 100),
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(policy),
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=max_redirects,
        trust_env=False,
        **client_options,
    )


@dataclass(frozen=True)
class FetchedPage:
    url: str
    status_code: int
    headers: httpx.Headers
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)


async def fetch_limited(
    client: httpx.AsyncClient, url: str, *, max_bytes: int, deadline: float
) -> FetchedPage:
    """GETs ``url`` through ``client``, reading at most ``max_bytes`` within ``deadline`` seconds."""
    check_url(url)
    async with asyncio.timeout(deadline), client.stream("GET", url) as response:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(f"{url} is larger than {max_bytes} bytes")
            chunks.append(chunk)
        cookies = {cookie.name: cookie.value or "" for cookie in response.cookies.jar}
        return FetchedPage(
            str(response.url), response.status_code, response.headers, b"".join(chunks), cookies
        )
