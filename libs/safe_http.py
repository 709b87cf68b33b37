"""Outbound HTTP to addresses users give us (company homepages, webhooks, provider URLs), without
letting them reach our own network.

Every connection the client opens, redirects included, goes through :class:`GuardedBackend`: the
host is resolved once, each address is checked against the :class:`OutboundPolicy`, and the
connection is made to the checked address (so a DNS answer cannot change between check and
use). TLS still verifies the certificate against the host name. Loopback, private, link-local
(cloud metadata at 169.254.169.254), multicast and reserved addresses are refused unless a
network of the policy allows them; tests allow the loopback addresses of their own servers. An IPv6
address that leads to an IPv4 one (IPv4-mapped or -compatible, 6to4, Teredo, NAT64) is judged by
that IPv4 address too. ``OutboundPolicy.allows`` is the one test of "may we connect there", also
for connections that are not HTTP (the verifier's mail hosts). A policy may also name the ports it
reaches (webhooks: 80 and 443 unless the operator allows others); by default every port.
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
from libs.http_decoding import (
    ACCEPT_ENCODING,
    MAX_BYTES_EXTENSION,
    BoundedDecodingTransport,
    ResponseTooLarge,
    UnsupportedEncoding,
)

__all__ = [
    "FetchedPage",
    "GuardedBackend",
    "OutboundPolicy",
    "ResponseTooLarge",
    "UnsafeDestination",
    "UnsupportedEncoding",
    "check_url",
    "fetch_limited",
    "guarded_client",
    "parse_ports",
    "url_port",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeDestination(PermissionDenied):
    """A URL whose host is, or resolves to, an address we do not connect to."""

    default_reason = "UNSAFE_URL"


# IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64 with a /96
# prefix: the well-known one and the local-use one, and the deprecated IPv4-compatible ::/96).
_LAST_32_BITS_IPV4 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
)
# Not public although Python 3.11's ``is_global`` says so: the local-use NAT64 prefix (RFC 8215).
_NON_PUBLIC = (ipaddress.IPv6Network("64:ff9b:1::/48"),)


def _address(address: IPAddress | str) -> IPAddress | None:
    if not isinstance(address, str):
        return address
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: 6to4, Teredo (server and client), NAT64 and
    IPv4-compatible addresses (IPv4-mapped ones are their IPv4 address, see ``allows``)."""
    found: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in prefix for prefix in _LAST_32_BITS_IPV4):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
    return found


def parse_ports(specs: Iterable[str | int]) -> tuple[range, ...]:
    """Ports from ``"443"`` or ``"8000-8999"`` entries; ValueError names a bad one."""
    ranges = []
    for spec in specs:
        low, _, high = str(spec).strip().partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"not a port or a port range: {spec!r}") from None
        if not 1 <= first <= last <= 65_535:
            raise ValueError(f"not a port or a port range within 1-65535: {spec!r}")
        ranges.append(range(first, last + 1))
    return tuple(ranges)


def url_port(url: httpx.URL) -> int:
    """The port ``url`` connects to (its scheme's when it names none)."""
    return url.port or (443 if url.scheme == "https" else 80)


@dataclass(frozen=True)
class OutboundPolicy:
    """Public addresses are allowed; other addresses only inside ``allowed_networks``. Only the
    ports of ``allowed_ports`` are reached, every port when it is None."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_ports: tuple[range, ...] | None = None

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str], ports: Iterable[str | int] | None = None) -> OutboundPolicy:
        networks = tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())
        return cls(networks, None if ports is None else parse_ports(ports))

    def allows_port(self, port: int) -> bool:
        return self.allowed_ports is None or any(port in ports for ports in self.allowed_ports)

    def allows(self, address: IPAddress | str) -> bool:
        """Whether we may connect to ``address`` (an IP address or its text; other text is refused).

        An IPv6 address that leads to an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, Teredo,
        NAT64) is allowed only when the IPv4 address is allowed too: ``64:ff9b::7f00:1`` is
        127.0.0.1 behind a NAT64 gateway.
        """
        parsed = _address(address)
        if parsed is None:
            return False
        if isinstance(parsed, ipaddress.IPv4Address):
            return self._allows(parsed)
        if parsed.ipv4_mapped is not None:
            return self._allows(parsed.ipv4_mapped)
        return self._allows(parsed) and all(self._allows(ipv4) for ipv4 in _embedded_ipv4(parsed))

    def _allows(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allowed_networks):
            return True
        return (
            address.is_global
            and not address.is_multicast
            and not any(address in network for network in _NON_PUBLIC)
        )


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
    """Resolves, checks every address, then connects to a checked one (the next when one fails)."""

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
        """Each checked address in resolver order, until one connects, within ``timeout``."""
        if not self.policy.allows_port(port):
            raise UnsafeDestination(f"port {port} of {host} is not one we connect to; not connecting")
        clock = asyncio.get_running_loop().time
        deadline = None if timeout is None else clock() + timeout
        *others, last = await self._checked_addresses(host, port, timeout)
        for address in others:
            left = None if deadline is None else max(0.0, deadline - clock())
            try:
                return await self._inner.connect_tcp(address, port, left, local_address, socket_options)
            except httpcore.ConnectError:
                continue
        left = None if deadline is None else max(0.0, deadline - clock())
        return await self._inner.connect_tcp(last, port, left, local_address, socket_options)

    async def _checked_addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            async with asyncio.timeout(timeout):  # the connect timeout bounds the lookup too
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise httpcore.ConnectError(f"cannot resolve {host}") from None
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        refused = [a for a in addresses if not self.policy.allows(a)]
        if refused:
            raise UnsafeDestination(f"{host} resolves to a non-public address ({refused[0]}); not connecting")
        return list(dict.fromkeys(str(address) for address in addresses))

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise UnsafeDestination("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(
    policy: OutboundPolicy,
    *,
    timeout: float | httpx.Timeout = 10.0,
    max_redirects: int = 5,
    follow_redirects: bool = True,
    limits: httpx.Limits | None = None,
    max_response_bytes: int = 16 * 1024 * 1024,
    **client_options: Any,
) -> httpx.AsyncClient:
    """A long-lived client whose every connection obeys ``policy``; redirects are followed unless
    ``follow_redirects`` is False (and each one is checked like the first request). Every response
    body, a redirect's too, is decoded within ``max_response_bytes`` (encoded and decoded) by
    :class:`libs.http_decoding.BoundedDecodingTransport`; only gzip and deflate are asked for."""
    max_connections = client_options.pop("max_connections", 100)
    if limits is None:
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )
    transport = BoundedDecodingTransport(retries=0, max_bytes=max_response_bytes)
    transport._pool = httpcore.AsyncConnectionPool(  # the only way to give httpx a network backend
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(policy),
    )
    headers = httpx.Headers(client_options.pop("headers", None))
    headers.setdefault("Accept-Encoding", ACCEPT_ENCODING)
    return httpx.AsyncClient(
        transport=transport,
        headers=headers,
        timeout=timeout,
        follow_redirects=follow_redirects,
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
    """GETs ``url`` through ``client``, reading at most ``max_bytes`` within ``deadline`` seconds.

    ``max_bytes`` bounds the bytes on the wire and the decoded ones, of every redirect hop too, when
    ``client`` comes from :func:`guarded_client`; :class:`UnsupportedEncoding` refuses a body in
    stacked or unknown encodings."""
    check_url(url)
    extensions = {MAX_BYTES_EXTENSION: max_bytes}
    async with asyncio.timeout(deadline), client.stream("GET", url, extensions=extensions) as response:
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
