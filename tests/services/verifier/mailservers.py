"""Loopback DNS and SMTP servers for the verifier's tests and benchmark.

``LoopbackDns`` answers from a dict of records with dnspython (UDP and TCP on 127.0.0.1).
``MailFarm`` binds one aiosmtpd server per behaviour on its own loopback address (127.0.0.2,
127.0.0.3, ... all route to ``lo`` on Linux) with the same port, since the verifier uses one SMTP
port for every MX host. It counts the sessions each server was opened and the most it had at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = [
    "CatchAll",
    "Greylist",
    "KnownMailboxes",
    "LoopbackDns",
    "MailFarm",
    "MailboxFull",
    "PolicyBlock",
    "Records",
    "SlowMailboxes",
]

# name -> rdtype ("MX", "A", ...) -> rdata texts; the special rdtype "SERVFAIL" makes every query
# of the name fail, "DROP" makes it go unanswered. Names not listed are NXDOMAIN.
Records = dict[str, dict[str, list[str]]]


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        wire = self.answer(data)
        if wire is not None and self.transport is not None:
            self.transport.sendto(wire, addr)


@dataclass
class LoopbackDns:
    records: Records
    host: str = "127.0.0.1"
    port: int = 0
    queries: Counter[tuple[str, str]] = field(default_factory=Counter)
    _udp: asyncio.DatagramTransport | None = None
    _tcp: asyncio.Server | None = None

    @property
    def nameserver(self) -> str:
        return f"{self.host}:{self.port}"

    def answer(self, data: bytes) -> bytes | None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries[(name, rdtype)] += 1
        entry = self.records.get(name)
        if entry is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif "DROP" in entry:
            return None
        elif "SERVFAIL" in entry:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif entry.get(rdtype):
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, 300, dns.rdataclass.IN, question.rdtype, entry[rdtype]
                )
            )
        return response.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                wire = self.answer(await reader.readexactly(length))
                if wire is not None:
                    writer.write(struct.pack("!H", len(wire)) + wire)
                    await writer.drain()
        writer.close()

    async def start(self) -> LoopbackDns:
        loop = asyncio.get_running_loop()
        self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
        self.port = self._tcp.sockets[0].getsockname()[1]
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _DnsUdp(self.answer), local_addr=(self.host, self.port)
        )
        return self

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()


# SMTP behaviours (aiosmtpd handlers). Each answers RCPT; everything else is aiosmtpd's default.


@dataclass
class Probe:
    """One RCPT a server saw: who asked (HELO name, envelope sender) and for what."""

    helo: str
    sender: str
    recipient: str
    reply: str


class _Behaviour:
    def __init__(self) -> None:
        self.rcpts: list[Probe] = []
        self.mail_commands = 0
        self.data_commands = 0

    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        raise NotImplementedError

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
        return "554 5.6.0 this test server takes no message"


class KnownMailboxes(_Behaviour):
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


class SlowMailboxes(KnownMailboxes):
    """:class:`KnownMailboxes` that takes ``delay`` seconds per RCPT (a busy server)."""

    def __init__(self, mailboxes: Iterable[str], delay: float) -> None:
        super().__init__(mailboxes)
        self.delay = delay

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


class CatchAll(_Behaviour):
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


class MailboxFull(_Behaviour):
    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        return f"452 4.2.2 <{address}>: Recipient address rejected: Mailbox full"


class PolicyBlock(_Behaviour):
    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        return "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"


class _CountingSMTP(SMTP):
    def __init__(self, server: _ServerStats, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.stats = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.stats.opened()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.stats.closed()
        super().connection_lost(error)


@dataclass
class _ServerStats:
    sessions: int = 0
    active: int = 0
    most_active: int = 0

    def opened(self) -> None:
        self.sessions += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)

    def closed(self) -> None:
        self.active -= 1


@dataclass
class MailFarm:
    """SMTP servers on ``127.0.0.<n>:<port>``: each name maps to a behaviour, ``"stall"`` (accepts
    and never greets), ``"busy"`` (greets with 421 and hangs up) or ``"refuse"`` (nothing listens)."""

    behaviours: dict[str, _Behaviour | str]
    port: int = 0
    addresses: dict[str, str] = field(default_factory=dict)
    stats: dict[str, _ServerStats] = field(default_factory=lambda: defaultdict(_ServerStats))
    _servers: list[asyncio.Server] = field(default_factory=list)
    _stalled: list[asyncio.StreamWriter] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.addresses = {name: f"127.0.0.{n}" for n, name in enumerate(self.behaviours, start=2)}

    async def _stall(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._stalled.append(writer)

    async def _busy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 4.3.2 Service not available, closing transmission channel\r\n")
        await writer.drain()
        writer.close()

    async def start(self) -> MailFarm:
        for _ in range(20):
            self.port = self.port or _free_port(self.addresses.values())
            try:
                await self._bind_all()
                return self
            except OSError:
                await self.stop()
                self.port = 0
        raise RuntimeError("no port free on every loopback address")

    async def _bind_all(self) -> None:
        loop = asyncio.get_running_loop()
        for name, behaviour in self.behaviours.items():
            address = self.addresses[name]
            if behaviour == "refuse":
                continue
            if behaviour in ("stall", "busy"):
                greet = self._stall if behaviour == "stall" else self._busy
                self._servers.append(await asyncio.start_server(greet, address, self.port))
                continue
            stats = self.stats[name]

            def factory(handler: Any = behaviour, stats: _ServerStats = stats, name: str = name) -> SMTP:
                return _CountingSMTP(stats, handler, hostname=f"{name}.lmtest", enable_SMTPUTF8=True)

            self._servers.append(await loop.create_server(factory, address, self.port))

    async def stop(self) -> None:
        for writer in self._stalled:
            writer.close()
        self._stalled.clear()
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def sessions(self, name: str | None = None) -> int:
        if name is not None:
            return self.stats[name].sessions
        return sum(stats.sessions for stats in self.stats.values())

    def reset(self) -> None:
        for stats in self.stats.values():
            stats.sessions, stats.most_active = 0, stats.active
        for behaviour in self.behaviours.values():
            if isinstance(behaviour, _Behaviour):
                behaviour.rcpts.clear()
                behaviour.mail_commands = behaviour.data_commands = 0


def _free_port(hosts: Iterable[str]) -> int:
    """A port that is free on the first host (the others are checked when binding)."""
    host = next(iter(hosts))
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
