"""Loopback servers the SDK tests point a client at: a proxy in front of the gateway that can lose
an answer on its way back (the request was served, the client never hears of it), and a server
that accepts connections and never answers."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = ["LosingProxy", "SilentServer"]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise AssertionError(f"the proxy passes only bodies with a Content-Length: {head!r}")
    return 0


@dataclass
class LosingProxy:
    """Passes HTTP/1.1 requests to ``upstream_port`` one at a time and their answers back, except
    the answer to the first request whose head starts with ``lose``: the connection is closed instead
    (after the gateway served it). ``heads`` are every request head it passed on."""

    upstream_port: int
    lose: bytes
    heads: list[bytes] = field(default_factory=list)
    lost: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self, start: bytes) -> list[bytes]:
        return [head for head in self.heads if head.startswith(start)]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                body = await reader.readexactly(_content_length(head))
                self.heads.append(head)
                upstream_writer.write(head + body)
                await upstream_writer.drain()
                answer_head = await upstream_reader.readuntil(b"\r\n\r\n")
                answer = answer_head + await upstream_reader.readexactly(_content_length(answer_head))
                if not self.lost and head.startswith(self.lose):
                    self.lost += 1
                    return  # served upstream; the client's connection just closes
                writer.write(answer)
                await writer.drain()
        finally:
            for stream in (writer, upstream_writer):
                stream.close()
                with contextlib.suppress(ConnectionError):
                    await stream.wait_closed()


@dataclass
class SilentServer:
    """Accepts connections, reads what comes, answers nothing until stopped."""

    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass
