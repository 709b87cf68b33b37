"""What one caller may take of the gateway: a per-key request budget for every authenticated
route (by class: reads, writes, enrichments, uploads), a per-address budget of failed
authentications, and a per-account cap on uploads under way.

Each ``/v1`` route is in one class (:func:`route_class`); every authenticated call spends a token
of its key's bucket of that class. A failed authentication spends one of its client address's,
and an address without any is answered 429 before the key is even looked up (no billing call,
no store read). The client address is the socket peer; ``X-Forwarded-For`` is believed only from
a peer in ``LEADMESH_TRUSTED_PROXIES``, read from the right and skipping the trusted hops.

Every answer of a limited call carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (:class:`RateLimitHeaders`); every 429 also ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import ApiError
from gateway.ratelimit import Decision, InFlight, TokenBuckets
from gateway.settings import GatewaySettings

__all__ = ["Limits", "RateLimitHeaders", "RouteClass", "client_address", "route_class"]

RouteClass = Literal["read", "write", "enrich", "upload"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Routes whose class is not their method's (GET and HEAD read, anything else writes).
_CLASSES: dict[tuple[str, str], RouteClass] = {
    ("POST", "/v1/enrich/lead"): "enrich",
    ("POST", "/v1/enrich/csv_row"): "enrich",
    ("POST", "/v1/enrich/csv"): "upload",
}
_STATE_KEY = "rate_limit"


def route_class(method: str, path: str) -> RouteClass:
    """The budget a call of ``method`` on the route ``path`` (its template) spends."""
    found = _CLASSES.get((method, path))
    if found is not None:
        return found
    return "read" if method in ("GET", "HEAD") else "write"


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(request: Request, trusted: Iterable[Network]) -> str:
    """The caller's address: the socket peer, or, when the peer is a trusted proxy, the first
    address of ``X-Forwarded-For`` from the right that is not a trusted proxy."""
    peer = request.client.host if request.client else ""
    networks = list(trusted)

    def is_trusted(address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in networks)

    if not networks or not is_trusted(peer):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if _ip(hop) is None:  # a hop we cannot read: the last one we could is the client
            return peer
        if not is_trusted(hop):
            return hop
        peer = hop
    return peer


class Limits:
    """The buckets and counters of one gateway process, made from its settings."""

    def __init__(self, settings: GatewaySettings):
        self.trusted_proxies = [ipaddress.ip_network(cidr, strict=False) for cidr in settings.trusted_proxies]
        self.per_key: dict[RouteClass, TokenBuckets] = {
            "read": TokenBuckets(settings.read_rate_per_second, settings.read_rate_burst),
            "write": TokenBuckets(settings.write_rate_per_second, settings.write_rate_burst),
            "enrich": TokenBuckets(settings.enrich_rate_per_second, settings.enrich_rate_burst),
            "upload": TokenBuckets(settings.upload_rate_per_second, settings.upload_rate_burst),
        }
        self.auth_failures = TokenBuckets(settings.auth_failure_rate_per_second, settings.auth_failure_burst)
        self.uploads = InFlight(settings.upload_max_concurrent)

    def check_address(self, request: Request) -> str:
        """The client address, once it may try a key (429 after too many failures)."""
        address = client_address(request, self.trusted_proxies)
        decision = self.auth_failures.peek(address)
        if not decision.allowed:
            raise ApiError(
                429,
                "too many failed authentications from this address; retry after Retry-After seconds",
                "TOO_MANY_AUTH_FAILURES",
                decision.headers(),
            )
        return address

    def failed(self, address: str) -> None:
        self.auth_failures.take(address)

    def spend(self, request: Request, key: str) -> None:
        """One call of ``key`` on this request's route; 429 when its class's bucket is empty."""
        route = request.scope.get("route")
        template = getattr(route, "path", request.url.path)
        kind = route_class(request.method, template)
        decision = self.per_key[kind].take(key)
        if not decision.allowed:
            raise ApiError(
                429, f"rate limit of this API key's {kind} calls exceeded", "RATE_LIMITED", decision.headers()
            )
        request.scope.setdefault("state", {})[_STATE_KEY] = decision

    def upload_refusal(self, account_id: str) -> None:
        refused = self.uploads.refusal(account_id)
        if refused is not None:
            raise ApiError(
                429,
                f"this account already has {self.uploads.limit} uploads under way; retry when one has "
                "been received",
                "TOO_MANY_UPLOADS",
                refused.headers(),
            )


class RateLimitHeaders:
    """Adds the ``X-RateLimit-*`` headers of the call's budget (see :meth:`Limits.spend`) to its
    answer, whatever the route returns (a streamed file, an error)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            decision: Decision | None = scope.get("state", {}).get(_STATE_KEY)
            if message["type"] == "http.response.start" and decision is not None:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-ratelimit-limit" for name, _ in headers):
                    headers += [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_limits)
