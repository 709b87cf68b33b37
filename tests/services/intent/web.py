"""A loopback web server standing in for job-board APIs and company websites.

It listens on 127.0.0.2 (the address the tests' outbound policy allows, like a public site) and,
on the same port, on 127.0.0.1 (which the policy refuses): a request that reached the loopback copy
would succeed, so a refused redirect proves the guard stopped it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from libs.embedded_store import free_port

SITE = "127.0.0.2"


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


class Web:
    def __init__(self) -> None:
        self.port = free_port(SITE)
        self.pages: dict[str, Page] = {}
        self.hits: list[tuple[str, str]] = []  # (address it arrived on, path)
        self._servers: list[asyncio.Server] = []

    def url(self, path: str) -> str:
        return f"http://{SITE}:{self.port}{path}"

    def hits_of(self, path: str) -> int:
        return sum(1 for _, hit in self.hits if hit == path)

    async def start(self) -> None:
        for _ in range(20):  # the port free on 127.0.0.2 may be taken on 127.0.0.1
            try:
                for host in (SITE, "127.0.0.1"):
                    self._servers.append(await asyncio.start_server(self._handle, host, self.port))
                return
            except OSError:
                await self.stop()
                self._servers = []
                self.port = free_port(SITE)
        raise RuntimeError("no port free on both loopback addresses")

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        path = request.split(b" ")[1].decode()
        self.hits.append((writer.get_extra_info("sockname")[0], path))
        page = self.pages.get(path, Page("404 Not Found", {"Content-Type": "text/plain"}, b"not found"))
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
