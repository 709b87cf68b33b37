"""/app/: the gateway serves the built dashboard's files under a strict Content-Security-Policy,
and says how to build them when they are missing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest_asyncio
import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from libs.embedded_store import free_port
from tests.waiting import eventually

Serve = Callable[[Path], Awaitable[httpx.AsyncClient]]


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(directory: Path) -> httpx.AsyncClient:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(GatewaySettings(dashboard_dir=directory)),
                host="127.0.0.1",
                port=port,
                log_config=None,
            )
        )
        servers.append((server, asyncio.create_task(server.serve())))
        await eventually(lambda: server.started)
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}")

    yield start
    for server, task in servers:
        server.should_exit = True
        await task


async def test_the_built_files_are_served_with_a_strict_policy(serve: Serve, tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(
        '<!doctype html><script type="module" src="/app/assets/a.js"></script>'
    )
    (tmp_path / "assets" / "a.js").write_text("console.log(1)")
    async with await serve(tmp_path) as http:
        redirect = await http.get("/app")
        assert redirect.status_code == 308 and redirect.headers["location"] == "/app/"
        page = await http.get("/app/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert (
            page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
        )
        script = await http.get("/app/assets/a.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert "content-security-policy" in script.headers
        assert (await http.get("/app/assets/missing.js")).status_code == 404
        assert (await http.get("/v1/credits")).status_code == 401, "the API is unchanged beside it"


async def test_missing_files_say_how_to_build_them(serve: Serve, tmp_path: Path) -> None:
    async with await serve(tmp_path / "nothing") as http:
        answer = await http.get("/app/")
        assert answer.status_code == 503 and "make dashboard" in answer.text
