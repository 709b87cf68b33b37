"""A web server on loopback answering from a dict of pages keyed by path (query included).

It stands in for company websites and job-board APIs. It can listen on several loopback
addresses at one port (``mirrors``): a test of an outbound guard serves the same pages on an
address the guard refuses, so that a refused request proves the guard stopped it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from libs.embedded_store import free_port

__all__ = ["Page", "Web"]


@dataclass
class Page:
    status: str = "200 OK"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Seconds to wait before answering.
    delay: float = 0.0
    # Set-Cookie values, one header each.
    cookies: list[str] = field(default_factory=list)

    @classmethod
    def html(
        cls,
        body: str,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        cookies: list[str] | None = None,
    ) -> Page:
        headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
        return cls("200 OK", headers, body.encode(), delay, cookies or [])

    @classmethod
    def json(cls, document: Any, status: str = "200 OK") -> Page:
        return cls(status, {"Content-Type": "application/json"}, json.dumps(document).encode())

    @classmethod
    def redirect(cls, location: str) -> Page:
        return cls("302 Found", {"Location": location})


NOT_FOUND = Page("404 Not Found", {"Content-Type": "text/plain"}, b"not found")


class Web:
    def __init__(self, host: str = "127.0.0.1", mirrors: Iterable[str] = ()) -> None:
        self.host = host
        self.mirrors = tuple(mirrors)
        self.port = free_port(host)
        self.pages: dict[str, Page] = {}
        self.hits: list[tuple[str, str]] = []  # (address it arrived on, path)
        self._servers: list[asyncio.Server] = []

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def hits_of(self, path: str) -> int:
        return sum(1 for _, hit in self.hits if hit == path)

    async def start(self) -> Web:
        for _ in range(20):  # the port free on the first address may be taken on a mirror
            try:
                for host in (self.host, *self.mirrors):
                    self._servers.append(await asyncio.start_server(self._handle, host, self.port))
                return self
            except OSError:
                await self.stop()
                self.port = free_port(self.host)
        raise RuntimeError(f"no port free on every address of {(self.host, *self.mirrors)}")

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._servers = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        parts = request.split(b" ")
        path = parts[1].decode("latin-1") if len(parts) > 2 else "/"
        self.hits.append((writer.get_extra_info("sockname")[0], path))
        page = self.pages.get(path, NOT_FOUND)
        try:
            if page.delay:
                await asyncio.sleep(page.delay)
            headers = {**page.headers, "Content-Length": str(len(page.body)), "Connection": "close"}
            lines = [*headers.items(), *(("Set-Cookie", cookie) for cookie in page.cookies)]
            head = "".join(f"{name}: {value}\r\n" for name, value in lines)
            writer.write(f"HTTP/1.1 {page.status}\r\n{head}\r\n".encode() + page.body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
