"""A tarpitting SMTP server on loopback: it accepts a connection and holds its banner for
``banner_delay`` seconds (then each reply for ``reply_delay``), as servers that slow down clients
they suspect of spamming do; after the wait it accepts every recipient. It speaks just enough SMTP
for a verifier's dialogue (EHLO/HELO, MAIL, RCPT, RSET, NOOP, QUIT) and delivers nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = ["TarpitServer"]

_REPLIES = {
    b"EHLO": b"250 tarpit.lmtest",
    b"HELO": b"250 tarpit.lmtest",
    b"MAIL": b"250 2.1.0 Ok",
    b"RCPT": b"250 2.1.5 Ok",
    b"RSET": b"250 2.0.0 Ok",
    b"NOOP": b"250 2.0.0 Ok",
}


@dataclass
class TarpitServer:
    host: str = "127.0.0.1"
    port: int = 0
    banner_delay: float = 20.0
    reply_delay: float = 0.0
    # Connections accepted so far, and commands seen (what a test asserts on).
    connections: int = 0
    commands: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> TarpitServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            await asyncio.sleep(self.banner_delay)
            await self._say(writer, b"220 tarpit.lmtest ESMTP")
            while line := await reader.readline():
                verb = line[:4].upper()
                self.commands.append(verb.decode("latin-1"))
                await asyncio.sleep(self.reply_delay)
                if verb == b"QUIT":
                    await self._say(writer, b"221 2.0.0 Bye")
                    break
                await self._say(writer, _REPLIES.get(verb, b"502 5.5.2 Error: command not recognized"))
        self._writers.discard(writer)
        writer.close()

    @staticmethod
    async def _say(writer: asyncio.StreamWriter, reply: bytes) -> None:
        writer.write(reply + b"\r\n")
        await writer.drain()
