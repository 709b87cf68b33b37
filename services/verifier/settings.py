"""The verifier's settings (``LEADMESH_`` environment)."""

from __future__ import annotations

import socket

from pydantic import Field, field_validator, model_validator

from libs.settings import CommonSettings

__all__ = ["VerifierSettings", "parse_nameservers"]


def parse_nameservers(value: str) -> list[tuple[str, int]]:
    """``"10.0.0.2, 10.0.0.3:5353, [2001:db8::1]:53"`` -> ``[(host, port), ...]`` (port 53 by default)."""
    servers: list[tuple[str, int]] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        host, port = entry, 53
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            if rest:
                port = int(rest.removeprefix(":"))
        elif entry.count(":") == 1:
            host, _, port_text = entry.partition(":")
            port = int(port_text)
        if not host or not 0 < port < 65536:
            raise ValueError(f"bad nameserver {entry!r}; expected host[:port]")
        servers.append((host, port))
    return servers


class VerifierSettings(CommonSettings):
    # Comma-separated host[:port] (LEADMESH_DNS_NAMESERVERS); the system resolver when empty.
    dns_nameservers: str = ""
    # Seconds one DNS lookup may take, retries included.
    verifier_dns_timeout: float = Field(default=5.0, gt=0)

    verifier_smtp_enabled: bool = True
    # One port for every MX host (25 on the Internet; tests bind loopback servers elsewhere).
    verifier_smtp_port: int = Field(default=25, ge=1, le=65535)
    # EHLO name: give the FQDN whose reverse DNS points at the verifier's public IP.
    verifier_helo_name: str = Field(default_factory=socket.getfqdn)
    # Envelope sender of the probes; ``verify@<helo name>`` when empty.
    verifier_mail_from: str = ""
    verifier_connect_timeout: float = Field(default=10.0, gt=0)
    verifier_command_timeout: float = Field(default=10.0, gt=0)
    # Addresses of one domain probed in one SMTP session, all RCPTs of one transaction: with the
    # catch-all probe at most the 100 recipients every server must take (RFC 5321 4.5.3.1.8).
    verifier_recipients_per_session: int = Field(default=20, ge=1, le=99)
    # Concurrent SMTP sessions to one mail server address, and RCPT commands per second to it.
    verifier_mx_concurrency: int = Field(default=3, ge=1)
    verifier_mx_rate: float = Field(default=10.0, gt=0)
    # Domains of a batch worked on at once.
    verifier_batch_concurrency: int = Field(default=64, ge=1)
    verifier_max_batch_items: int = Field(default=50_000, ge=1)
    # Greylisted addresses of a batch are probed again after this many seconds (postgrey's default
    # delay is 300 s), at most this many times, and only when the call's deadline leaves room.
    verifier_greylist_backoff: float = Field(default=300.0, ge=0)
    verifier_greylist_retries: int = Field(default=1, ge=0)
    # Retry hint of an unknown verdict caused by another temporary condition; a mail server that
    # ran out of a domain's budget is not tried again for this long either.
    verifier_retry_after: float = Field(default=900.0, ge=0)
    # Seconds one attempt at a domain's SMTP probes may take besides the time its RCPTs take at
    # verifier_mx_rate (0: no limit but the call's): a server tarpitting (holding its banner or
    # replies) leaves its addresses unknown, with the reason and a retry time, instead of holding
    # the batch (a CSV chunk) until its own timeouts. Below enrichment's verifier cap (3 s), so
    # that a single lead's probe of a tarpit is cut by it too, and the host remembered.
    verifier_domain_budget: float = Field(default=2.5, ge=0)
    # Budget of one Verify call when the caller sets no deadline.
    verifier_verify_timeout: float = Field(default=30.0, gt=0)
    # Cache lifetimes (seconds): per address, per domain, and per domain that does not take mail.
    verifier_address_cache_ttl: int = Field(default=7 * 86400, ge=0)
    verifier_domain_cache_ttl: int = Field(default=86400, ge=0)
    verifier_negative_cache_ttl: int = Field(default=3600, ge=0)
    # Seconds between purges of expired cache entries.
    verifier_purge_interval: float = Field(default=3600.0, gt=0)
    # MX hosts on private, loopback or other non-public addresses are refused unless this is set
    # (tests and local set-ups).
    verifier_allow_private_mx: bool = False
    # Domains counted as disposable besides the packaged list (a JSON list, e.g. your own blocklist).
    verifier_disposable_domains: list[str] = Field(default_factory=list)

    @field_validator("dns_nameservers")
    @classmethod
    def _valid_nameservers(cls, value: str) -> str:
        parse_nameservers(value)
        return value

    @model_validator(mode="after")
    def _default_sender(self) -> VerifierSettings:
        if not self.verifier_mail_from:
            self.verifier_mail_from = f"verify@{self.verifier_helo_name}"
        return self

    @property
    def nameservers(self) -> list[tuple[str, int]]:
        return parse_nameservers(self.dns_nameservers)
