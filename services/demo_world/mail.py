"""An SMTP server on loopback (aiosmtpd) whose answers to ``RCPT TO`` come from a behaviour.

A behaviour decides each recipient the way a kind of real server does: :class:`KnownMailboxes`
(Postfix: listed mailboxes exist, others are unknown), :class:`CatchAll` (any address is taken),
:class:`Greylist` (new senders are deferred), :class:`MailboxFull`; :class:`ByDomain` gives each
domain its own. Nothing is ever delivered: ``DATA`` is refused. :class:`MailServer` counts the
sessions it was opened and the most it had at once.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = [
    "ByDomain",
    "CatchAll",
    "Greylist",
    "KnownMailboxes",
    "MailBehaviour",
    "MailServer",
    "MailboxFull",
    "Probe",
    "SessionStats",
]


@dataclass
class Probe:
    """One RCPT a server saw: who asked (HELO name, envelope sender) and for what."""

    helo: str
    sender: str
    recipient: str
    reply: str


class MailBehaviour(ABC):
    """aiosmtpd handler answering RCPT with :meth:`reply`; everything else is aiosmtpd's default."""

    def __init__(self) -> None:
        self.rcpts: list[Probe] = []
        self.mail_commands = 0
        self.data_commands = 0

    @abstractmethod
    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        """The SMTP reply to ``RCPT TO:<address>``."""

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        self.mail_commands += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.reply(session, envelope, address)
        self.rcpts.append(Probe(session.host_name or "", envelope.mail_from or "", address, reply))
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_commands += 1
        return "554 5.6.0 this server takes no message"

    def reset(self) -> None:
        self.rcpts.clear()
        self.mail_commands = self.data_commands = 0


class KnownMailboxes(MailBehaviour):
    """Postfix's answers: the listed mailboxes exist, any other is unknown."""

    def __init__(self, mailboxes: Iterable[str] = (), exists: Callable[[str], bool] | None = None) -> None:
        super().__init__()
        self.mailboxes = {mailbox.lower() for mailbox in mailboxes}
        self.exists = exists

    def knows(self, address: str) -> bool:
        return address.lower() in self.mailboxes or (self.exists is not None and self.exists(address))

    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        if self.knows(address):
            return "250 2.1.5 Ok"
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"


class CatchAll(MailBehaviour):
    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        return "250 2.1.5 Ok"


class Greylist(KnownMailboxes):
    """Defers every new (client, sender, recipient) for ``delay`` seconds, then answers as
    :class:`KnownMailboxes`."""

    def __init__(self, mailboxes: Iterable[str], delay: float) -> None:
        super().__init__(mailboxes)
        self.delay = delay
        self.first_seen: dict[tuple[str, str, str], float] = {}

    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        client = str(session.peer[0]) if session.peer else ""
        triplet = (client, (envelope.mail_from or "").lower(), address.lower())
        first = self.first_seen.setdefault(triplet, time.monotonic())
        if time.monotonic() - first < self.delay:
            return f"451 4.7.1 <{address}>: Recipient address rejected: Greylisted, please come back later"
        return super().reply(session, envelope, address)


class MailboxFull(MailBehaviour):
    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        return f"452 4.2.2 <{address}>: Recipient address rejected: Mailbox full"


class ByDomain(MailBehaviour):
    """One server for many domains: a recipient is answered by its own behaviour when it has one,
    else by its domain's, else by ``default``; every RCPT is recorded here as well."""

    def __init__(
        self,
        domains: Mapping[str, MailBehaviour],
        default: MailBehaviour,
        addresses: Mapping[str, MailBehaviour] | None = None,
    ) -> None:
        super().__init__()
        self.domains = {domain.lower(): behaviour for domain, behaviour in domains.items()}
        self.addresses = {address.lower(): behaviour for address, behaviour in (addresses or {}).items()}
        self.default = default

    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        lowered = address.lower()
        behaviour = self.addresses.get(lowered) or self.domains.get(lowered.rpartition("@")[2], self.default)
        return behaviour.reply(session, envelope, address)


@dataclass
class SessionStats:
    sessions: int = 0
    active: int = 0
    most_active: int = 0

    def opened(self) -> None:
        self.sessions += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)

    def closed(self) -> None:
        self.active -= 1

    def reset(self) -> None:
        self.sessions, self.most_active = 0, self.active


class _CountingSMTP(SMTP):
    def __init__(self, stats: SessionStats, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.stats = stats

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.stats.opened()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.stats.closed()
        super().connection_lost(error)


@dataclass
class MailServer:
    """``behaviour`` served on ``host:port`` (port 0: bind a free one, see :attr:`port`)."""

    behaviour: MailBehaviour
    host: str = "127.0.0.1"
    port: int = 0
    hostname: str = "mx.localhost"
    stats: SessionStats = field(default_factory=SessionStats)
    _server: asyncio.Server | None = None

    def _protocol(self) -> SMTP:
        return _CountingSMTP(self.stats, self.behaviour, hostname=self.hostname, enable_SMTPUTF8=True)

    async def start(self) -> MailServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
