"""Where a domain's mail goes, with dnspython's async resolver.

MX records in preference order (equal preferences shuffled, RFC 5321 §5.1), the domain's own
A/AAAA as the implicit MX when it has none, null MX (RFC 7505) and NXDOMAIN as "takes no mail",
and mail hosts on non-public addresses refused unless allowed (judged by the outbound HTTP
policy, :class:`libs.safe_http.OutboundPolicy`: an AAAA such as ``64:ff9b::7f00:1`` or
``::ffff:127.0.0.1`` is loopback too).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.MX import MX

from libs.safe_http import OutboundPolicy
from services.verifier.domain import DomainOutcome, MailHost

__all__ = ["MailRoute", "MailRouteResolver"]

# Mail hosts tried per domain: real domains list 1-5; a long list is a misconfiguration or abuse.
MAX_MAIL_HOSTS = 10


@dataclass(frozen=True)
class MailRoute:
    outcome: DomainOutcome
    hosts: tuple[MailHost, ...] = ()
    detail: str = ""


class _LookupFailed(Exception):
    """A lookup that timed out or that no nameserver could answer."""


class MailRouteResolver:
    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]],
        timeout: float,
        *,
        allow_private: bool = False,
        cache_size: int = 10_000,
    ) -> None:
        if nameservers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in nameservers
            ]
        else:
            self._resolver = dns.asyncresolver.Resolver()
        # An answer is reused for its TTL: many domains share a few mail hosts.
        self._resolver.cache = dns.resolver.LRUCache(cache_size)
        self._resolver.lifetime = timeout
        self._resolver.timeout = min(2.0, timeout)
        self.timeout = timeout
        self.allow_private = allow_private
        self._policy = OutboundPolicy()

    def _lifetime(self, deadline: float | None) -> float:
        if deadline is None:
            return self.timeout
        return max(0.001, min(self.timeout, deadline - time.monotonic()))

    async def _query(self, name: str, rdtype: str, deadline: float | None) -> dns.resolver.Answer:
        """The answer (its ``rrset`` None for "no such data"); NXDOMAIN raised as is."""
        try:
            return await self._resolver.resolve(
                name, rdtype, lifetime=self._lifetime(deadline), search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            raise
        except dns.resolver.NoNameservers as error:
            answers = "; ".join(
                f"{found[0]} answered {found[3]}"
                for found in error.kwargs.get("errors") or ()
                if len(found) > 3
            )
            raise _LookupFailed(f"no nameserver could answer {rdtype} {name} ({answers})") from None
        except dns.exception.Timeout:
            raise _LookupFailed(f"the {rdtype} lookup of {name} timed out") from None
        except dns.exception.DNSException as error:
            raise _LookupFailed(f"the {rdtype} lookup of {name} failed: {type(error).__name__}") from None

    async def resolve(self, ascii_domain: str, deadline: float | None = None) -> MailRoute:
        """Where mail for ``ascii_domain`` is delivered, or why it cannot be."""
        try:
            answer = await self._query(ascii_domain, "MX", deadline)
        except dns.resolver.NXDOMAIN:
            return MailRoute(DomainOutcome.NXDOMAIN, detail=f"{ascii_domain} does not exist")
        except _LookupFailed as failure:
            return MailRoute(DomainOutcome.DNS_FAILURE, detail=str(failure))
        rrset = answer.rrset
        records = [record for record in rrset if isinstance(record, MX)] if rrset is not None else []
        if not records:
            return await self._implicit_mx(ascii_domain, deadline)
        if any(record.exchange == dns.name.root for record in records):
            if len(records) == 1:
                return MailRoute(DomainOutcome.NULL_MX, detail=f"{ascii_domain} publishes a null MX")
            records = [record for record in records if record.exchange != dns.name.root]
        return await self._hosts(_in_preference_order(records)[:MAX_MAIL_HOSTS], deadline)

    async def _implicit_mx(self, ascii_domain: str, deadline: float | None) -> MailRoute:
        try:
            addresses = await self._addresses(ascii_domain, deadline)
        except dns.resolver.NXDOMAIN:
            return MailRoute(DomainOutcome.NXDOMAIN, detail=f"{ascii_domain} does not exist")
        except _LookupFailed as failure:
            return MailRoute(DomainOutcome.DNS_FAILURE, detail=str(failure))
        if not addresses:
            return MailRoute(DomainOutcome.NO_MAIL_HOST, detail=f"{ascii_domain} has no MX, A or AAAA record")
        return self._usable([MailHost(ascii_domain, 0, addresses)], "")

    async def _hosts(self, exchanges: list[tuple[int, str]], deadline: float | None) -> MailRoute:
        lookups = await asyncio.gather(
            *(self._addresses(name, deadline) for _, name in exchanges), return_exceptions=True
        )
        hosts: list[MailHost] = []
        failures: list[str] = []
        for (preference, name), found in zip(exchanges, lookups, strict=True):
            if isinstance(found, _LookupFailed):
                failures.append(str(found))
            elif isinstance(found, BaseException):
                if not isinstance(found, dns.resolver.NXDOMAIN):
                    raise found
            elif found:
                hosts.append(MailHost(name, preference, found))
        if not hosts:
            if failures:
                return MailRoute(DomainOutcome.DNS_FAILURE, detail="; ".join(failures))
            names = ", ".join(name for _, name in exchanges)
            return MailRoute(DomainOutcome.NO_MAIL_HOST, detail=f"no MX host resolves ({names})")
        return self._usable(hosts, "; ".join(failures))

    async def _addresses(self, name: str, deadline: float | None) -> tuple[str, ...]:
        """IPv4 addresses first (IPv6 senders without reverse DNS are widely refused), then IPv6.

        Empty when the name has neither; NXDOMAIN or :class:`_LookupFailed` when nothing was found
        and that is why.
        """
        results = await asyncio.gather(
            self._query(name, "A", deadline), self._query(name, "AAAA", deadline), return_exceptions=True
        )
        found: list[str] = []
        errors: list[BaseException] = []
        for result in results:
            if isinstance(result, BaseException):
                errors.append(result)
            elif result.rrset is not None:
                found += [record.address for record in result.rrset]
        if found:
            return tuple(found)
        for error in errors:
            if not isinstance(error, dns.resolver.NXDOMAIN | _LookupFailed):
                raise error
        failed = [error for error in errors if isinstance(error, _LookupFailed)]
        if failed or errors:
            raise (failed or errors)[0]
        return ()

    def _usable(self, hosts: list[MailHost], detail: str) -> MailRoute:
        if self.allow_private:
            return MailRoute(DomainOutcome.ROUTABLE, tuple(hosts), detail)
        public = [
            MailHost(host.name, host.preference, kept)
            for host in hosts
            if (kept := tuple(address for address in host.addresses if self._policy.allows(address)))
        ]
        if not public:
            return MailRoute(
                DomainOutcome.NON_PUBLIC_MX,
                detail=", ".join(f"{host.name} -> {' '.join(host.addresses)}" for host in hosts),
            )
        return MailRoute(DomainOutcome.ROUTABLE, tuple(public), detail)


def _in_preference_order(records: list[MX]) -> list[tuple[int, str]]:
    shuffled = random.sample(records, len(records))
    ordered = sorted(shuffled, key=lambda record: record.preference)
    seen: set[str] = set()
    exchanges: list[tuple[int, str]] = []
    for record in ordered:
        name = record.exchange.to_text(omit_final_dot=True).lower()
        if name not in seen:
            seen.add(name)
            exchanges.append((record.preference, name))
    return exchanges
