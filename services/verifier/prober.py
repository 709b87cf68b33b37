"""The SMTP probe, with aiosmtplib: EHLO, MAIL FROM, then RCPT TO for each address in that one
transaction; after the first accepted address, RCPT of a random local part to tell a catch-all
domain. Never DATA. A refused RCPT leaves the transaction going (RFC 5321 3.3), and a server must
take at least 100 recipients in one, so one round trip per address is all a probe costs.

One session serves up to N addresses of one domain. Mail hosts are tried in preference order; a
host that refuses the connection, times out or answers 4xx/5xx before the first RCPT hands the
addresses left to the next host. Every command has a timeout no later than the caller's deadline,
and every session and RCPT goes through the per-server :class:`HostLimiter`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import aiosmtplib

from libs.telemetry import meter
from libs.ttlcache import TtlCache
from services.verifier.domain import (
    EmailAddress,
    MailboxProbe,
    MailHost,
    ProbeOutcome,
    SmtpReply,
    classify_reply,
)
from services.verifier.limits import HostLimiter, LimitWaitTimeout

__all__ = ["OnProbe", "ProbeSettings", "SmtpProber"]

log = logging.getLogger("leadmesh.verifier.smtp")

_meter = meter("leadmesh.verifier")
_SESSIONS = _meter.create_counter("leadmesh.verifier.smtp_sessions", description="SMTP sessions opened")
_PROBES = _meter.create_counter(
    "leadmesh.verifier.smtp_probes", description="Mailbox probes by outcome (policy blocks show up here)"
)

# Addresses of one host tried (a host name may resolve to many).
ADDRESSES_PER_HOST = 2
# Slow hosts remembered at most.
SLOW_HOSTS = 10_000

# Called once per address, as soon as its outcome and the domain's catch-all state are known.
OnProbe = Callable[[EmailAddress, MailboxProbe, "bool | None"], None]


@dataclass(frozen=True)
class ProbeSettings:
    port: int
    helo_name: str
    mail_from: str
    connect_timeout: float
    command_timeout: float


class _HostFailure(Exception):
    """The session with one host ended before the addresses left were decided."""

    def __init__(self, probe: MailboxProbe) -> None:
        super().__init__(probe.detail)
        self.probe = probe


def _reply_failure(stage: str, host: str, reply: SmtpReply) -> _HostFailure:
    """A refusal before or outside RCPT: never about the mailbox."""
    outcome = classify_reply(reply)
    if outcome not in (ProbeOutcome.GREYLISTED, ProbeOutcome.TEMPORARY, ProbeOutcome.POLICY):
        outcome = ProbeOutcome.TEMPORARY if reply.code < 500 else ProbeOutcome.POLICY
    detail = f"{host} refused {stage}: {reply.code} {reply.text}"
    return _HostFailure(MailboxProbe(outcome, reply, host, detail))


class SmtpProber:
    def __init__(self, settings: ProbeSettings, limiter: HostLimiter, remember_slow: float = 0.0) -> None:
        self.settings = settings
        self.limiter = limiter
        # Hosts that ran out of a domain's time budget -> why; not tried again for ``remember_slow``
        # seconds, so that each batch (each CSV chunk) does not wait for a tarpit again.
        self.slow_hosts: TtlCache[str, str] = TtlCache(remember_slow, SLOW_HOSTS)

    def remember_slow(self, host: str, detail: str) -> None:
        self.slow_hosts.put(host, detail)

    @property
    def sessions_per_server(self) -> int:
        """Sessions open at once with any one server address, at most."""
        return self.limiter.concurrency

    async def probe(
        self,
        hosts: Sequence[MailHost],
        recipients: Sequence[EmailAddress],
        *,
        catch_all: bool | None,
        catch_all_address: str,
        deadline: float | None,
        on_probe: OnProbe,
    ) -> bool | None:
        """Probes ``recipients`` (one session unless a host fails) and returns the catch-all state
        (``catch_all`` as given when it was known or could not be told)."""
        session = _Session(self, catch_all, catch_all_address, deadline, on_probe)
        pending = list(recipients)
        failure = MailboxProbe(ProbeOutcome.UNREACHABLE, detail="the domain has no mail host to try")
        for host, address in _targets(hosts):
            if not pending:
                break
            if (slow := self.slow_hosts.get(host)) is not None:
                failure = MailboxProbe(ProbeOutcome.TIMEOUT, host=host, detail=slow)
                continue
            try:
                async with self.limiter.session(address, deadline):
                    await session.run(host, address, pending)
            except LimitWaitTimeout as waited:
                failure = MailboxProbe(ProbeOutcome.TIMEOUT, host=host, detail=str(waited))
                break
            except _HostFailure as ended:
                failure = ended.probe
                log.debug("host failed", extra={"host": host, "address": address, "detail": failure.detail})
                if failure.outcome is ProbeOutcome.TIMEOUT and session.expired():
                    break
        for recipient in pending:
            on_probe(recipient, failure, session.catch_all)
        return session.catch_all


def _targets(hosts: Sequence[MailHost]) -> Iterator[tuple[str, str]]:
    for host in hosts:
        for address in host.addresses[:ADDRESSES_PER_HOST]:
            yield host.name, address


class _Session:
    """The state of one probe across the hosts it tries."""

    def __init__(
        self,
        prober: SmtpProber,
        catch_all: bool | None,
        catch_all_address: str,
        deadline: float | None,
        on_probe: OnProbe,
    ) -> None:
        self.settings = prober.settings
        self.limiter = prober.limiter
        self.catch_all = catch_all
        self.catch_all_address = catch_all_address
        self.catch_all_tried = catch_all is not None
        self.deadline = deadline
        self.on_probe = on_probe

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _timeout(self, limit: float, host: str) -> float:
        if self.deadline is None:
            return limit
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _HostFailure(MailboxProbe(ProbeOutcome.TIMEOUT, host=host, detail="the deadline passed"))
        return min(limit, remaining)

    async def run(self, host: str, address: str, pending: list[EmailAddress]) -> None:
        """Probes ``pending`` on one server, removing each address as it is decided."""
        client = aiosmtplib.SMTP(
            hostname=address,
            port=self.settings.port,
            local_hostname=self.settings.helo_name,
            timeout=self.settings.command_timeout,
            start_tls=False,
        )
        try:
            await self._open(client, host, address)
            smtputf8 = client.supports_extension("smtputf8")
            await self._mail(client, host, smtputf8 and any(r.needs_smtputf8 for r in pending))
            while pending:
                recipient = pending[0]
                if recipient.needs_smtputf8 and not smtputf8:
                    pending.pop(0)
                    self.on_probe(
                        recipient, MailboxProbe(ProbeOutcome.UNSUPPORTED, host=host), self.catch_all
                    )
                    continue
                reply = await self._rcpt(client, host, address, recipient.smtp_address)
                pending.pop(0)
                probe = MailboxProbe(classify_reply(reply), reply, host)
                _PROBES.add(1, {"outcome": probe.outcome.value})
                try:
                    if probe.outcome is ProbeOutcome.ACCEPTED and not self.catch_all_tried:
                        self.catch_all_tried = True
                        self.catch_all = await self._probe_catch_all(client, host, address)
                finally:
                    self.on_probe(recipient, probe, self.catch_all)
            with contextlib.suppress(aiosmtplib.SMTPException, TimeoutError, _HostFailure):
                await client.quit(timeout=self._timeout(1.0, host))
        except aiosmtplib.SMTPTimeoutError:
            raise _HostFailure(
                MailboxProbe(ProbeOutcome.TIMEOUT, host=host, detail=f"{host} ({address}) stopped answering")
            ) from None
        except aiosmtplib.SMTPServerDisconnected:
            raise _HostFailure(
                MailboxProbe(
                    ProbeOutcome.TEMPORARY, host=host, detail=f"{host} ({address}) closed the connection"
                )
            ) from None
        finally:
            client.close()

    async def _open(self, client: aiosmtplib.SMTP, host: str, address: str) -> None:
        try:
            await client.connect(timeout=self._timeout(self.settings.connect_timeout, host))
        except aiosmtplib.SMTPConnectResponseError as refused:
            raise _reply_failure("the connection", host, SmtpReply(refused.code, refused.message)) from None
        except aiosmtplib.SMTPConnectTimeoutError:
            detail = f"{host} ({address}) sent no greeting within {self.settings.connect_timeout:g}s"
            raise _HostFailure(MailboxProbe(ProbeOutcome.TIMEOUT, host=host, detail=detail)) from None
        except aiosmtplib.SMTPConnectError as error:
            detail = f"cannot connect to {host} ({address}) on port {self.settings.port}: {error}"
            raise _HostFailure(MailboxProbe(ProbeOutcome.UNREACHABLE, host=host, detail=detail)) from None
        _SESSIONS.add(1)
        try:
            await client.ehlo(timeout=self._timeout(self.settings.command_timeout, host))
        except aiosmtplib.SMTPHeloError:
            try:
                await client.helo(timeout=self._timeout(self.settings.command_timeout, host))
            except aiosmtplib.SMTPHeloError as refused:
                raise _reply_failure("HELO", host, SmtpReply(refused.code, refused.message)) from None

    async def _command(self, client: aiosmtplib.SMTP, host: str, *parts: bytes) -> SmtpReply:
        response = await client.execute_command(
            *parts, timeout=self._timeout(self.settings.command_timeout, host)
        )
        return SmtpReply(response.code, response.message)

    async def _mail(self, client: aiosmtplib.SMTP, host: str, smtputf8: bool) -> None:
        options = [b"SMTPUTF8"] if smtputf8 else []
        sender = self.settings.mail_from.encode("utf-8")
        mail = await self._command(client, host, b"MAIL", b"FROM:<" + sender + b">", *options)
        if mail.code != 250:
            raise _reply_failure("the sender (MAIL FROM)", host, mail)

    async def _rcpt(self, client: aiosmtplib.SMTP, host: str, address: str, recipient: str) -> SmtpReply:
        try:
            await self.limiter.pace(address, self.deadline)
        except LimitWaitTimeout as waited:
            raise _HostFailure(MailboxProbe(ProbeOutcome.TIMEOUT, host=host, detail=str(waited))) from None
        return await self._command(client, host, b"RCPT", b"TO:<" + recipient.encode("utf-8") + b">")

    async def _probe_catch_all(self, client: aiosmtplib.SMTP, host: str, address: str) -> bool | None:
        """True if a made-up mailbox is accepted too, False if refused as unknown, else None."""
        reply = await self._rcpt(client, host, address, self.catch_all_address)
        outcome = classify_reply(reply)
        if outcome is ProbeOutcome.ACCEPTED:
            return True
        if outcome is ProbeOutcome.MAILBOX_UNKNOWN:
            return False
        return None
