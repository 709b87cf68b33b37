"""A loopback webhook endpoint: it records every request and answers a configured sequence of
statuses (the last one repeats), optionally after a delay."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    # Header names lower-cased.
    headers: dict[str, str]
    body: bytes
    # time.monotonic() when the request was read.
    at: float


class Receiver:
    def __init__(
        self, statuses: Sequence[int] = (200,), delays: Sequence[float] = (), host: str = "127.0.0.1"
    ) -> None:
        self.statuses = list(statuses)
        self.delays = list(delays)
        self.host = host
        self.port = 0
        self.requests: list[Received] = []
        self._server: asyncio.Server | None = None

    def url(self, path: str = "/hooks/leadmesh") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _answer(self, index: int) -> tuple[int, float]:
        status = self.statuses[min(index, len(self.statuses) - 1)]
        delay = self.delays[index] if index < len(self.delays) else 0.0
        return status, delay

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            headers = {}
            for line in lines:
                name, colon, value = line.partition(":")
                if colon:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            method, path, _ = request_line.split(" ", 2)
            index = len(self.requests)
            self.requests.append(Received(method, path, headers, body, time.monotonic()))
            status, delay = self._answer(index)
            if delay:
                await asyncio.sleep(delay)
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
