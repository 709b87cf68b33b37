"""Loopback DNS and SMTP servers for the verifier's tests and benchmark.

The servers and the common behaviours are the demo world's (:mod:`services.demo_world`); here are
the behaviours only tests need (a slow server, a policy block) and ``MailFarm``, which binds one
server per behaviour on its own loopback address (127.0.0.2, 127.0.0.3, ... all route to ``lo`` on
Linux) with the same port, since the verifier uses one SMTP port for every MX host.
"""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, Envelope, Session

from services.demo_world import (
    CatchAll,
    Greylist,
    KnownMailboxes,
    LoopbackDns,
    MailBehaviour,
    MailboxFull,
    MailServer,
    Records,
    SessionStats,
)

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


class PolicyBlock(MailBehaviour):
    def reply(self, session: Session, envelope: Envelope, address: str) -> str:
        return "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"


@dataclass
class MailFarm:
    """SMTP servers on ``127.0.0.<n>:<port>``: each name maps to a behaviour, ``"stall"`` (accepts
    and never greets), ``"busy"`` (greets with 421 and hangs up) or ``"refuse"`` (nothing listens)."""

    behaviours: dict[str, MailBehaviour | str]
    port: int = 0
    addresses: dict[str, str] = field(default_factory=dict)
    stats: dict[str, SessionStats] = field(default_factory=lambda: defaultdict(SessionStats))
    _servers: list[MailServer | asyncio.Server] = field(default_factory=list)
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
        for name, behaviour in self.behaviours.items():
            address = self.addresses[name]
            if behaviour == "refuse":
                continue
            if isinstance(behaviour, str):
                greet = self._stall if behaviour == "stall" else self._busy
                self._servers.append(await asyncio.start_server(greet, address, self.port))
                continue
            server = MailServer(behaviour, address, self.port, f"{name}.lmtest", self.stats[name])
            self._servers.append(await server.start())

    async def stop(self) -> None:
        for writer in self._stalled:
            writer.close()
        self._stalled.clear()
        for server in self._servers:
            if isinstance(server, MailServer):
                await server.stop()
            else:
                server.close()
                await server.wait_closed()
        self._servers.clear()

    def sessions(self, name: str | None = None) -> int:
        if name is not None:
            return self.stats[name].sessions
        return sum(stats.sessions for stats in self.stats.values())

    def reset(self) -> None:
        for stats in self.stats.values():
            stats.reset()
        for behaviour in self.behaviours.values():
            if isinstance(behaviour, MailBehaviour):
                behaviour.reset()


def _free_port(hosts: Iterable[str]) -> int:
    """A port that is free on the first host (the others are checked when binding)."""
    host = next(iter(hosts))
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
