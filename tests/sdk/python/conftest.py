"""The Python SDK against the real mesh: one mesh per test module (the whole pipeline, the batch
server and worker on the real broker) with the gateway on a loopback port, as the gateway tests
start it; extra gateways with other settings in front of the same services; a loopback TCP proxy
that can lose an answer or never give one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest_asyncio
import uvicorn
from pymongo import AsyncMongoClient

from gateway.app import create_app
from gateway.settings import GatewaySettings
from libs.embedded_store import free_port
from libs.mongo import Document
from services.batch.settings import BatchSettings
from tests.services.enrichment.mesh import Mesh, running_mesh
from tests.waiting import eventually

T = TypeVar("T")


def batch_settings() -> BatchSettings:
    return BatchSettings(
        shutdown_grace=0.5,
        batch_chunk_rows=2,
        batch_max_rows=200,
        batch_max_attempts=2,
        batch_webhook_allowed_networks=["127.0.0.0/8"],
        batch_webhook_allowed_ports=["1024-65535"],  # the test receivers' ports
        batch_webhook_base_delay=0.2,
        webhook_secret="test-master-secret",
    )


@pytest_asyncio.fixture(scope="module")
async def mesh(mongo_client: AsyncMongoClient[Document], amqp_url: str) -> AsyncIterator[Mesh]:
    name = f"t_sdk_{uuid.uuid4().hex[:10]}"
    async with running_mesh(mongo_client[name], amqp_url, batch=batch_settings(), csv_sync_max_rows=8) as up:
        yield up
    await mongo_client.drop_database(name)


def base_url(mesh: Mesh) -> str:
    return str(mesh.http.base_url).rstrip("/")


async def in_thread(call: Callable[[], T]) -> T:
    """A call of the blocking client, off the event loop the gateway runs on."""
    return await asyncio.to_thread(call)


@asynccontextmanager
async def another_gateway(mesh: Mesh, **overrides: Any) -> AsyncIterator[str]:
    """A second gateway in front of the same services, with other settings; yields its URL."""
    settings: GatewaySettings = mesh.servers["gateway_settings"].model_copy(update=overrides)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Proxy:
    """A loopback TCP proxy to ``upstream`` (host, port). It records what clients sent; with
    ``lose_answers=n`` it forwards the first n requests but closes their connection as soon as the
    answer starts coming back, so the client never sees it; with ``hang`` it answers nothing."""

    def __init__(self, upstream: tuple[str, int], lose_answers: int = 0, hang: bool = False) -> None:
        self.upstream = upstream
        self.lose_answers = lose_answers
        self.hang = hang
        self.sent: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def requests_with(self, header: bytes) -> list[bytes]:
        """The values of ``header`` in what clients sent, in order."""
        values = []
        for data in self.sent:
            for line in data.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == header.lower():
                    values.append(value.strip())
        return values

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        index = len(self.sent)
        self.sent.append(b"")
        try:
            if self.hang:
                while await reader.read(65536):
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            lose = index < self.lose_answers

            async def forward() -> None:
                while data := await reader.read(65536):
                    self.sent[index] += data
                    up_writer.write(data)
                    await up_writer.drain()

            pump = asyncio.create_task(forward())
            try:
                while data := await up_reader.read(65536):
                    if lose:
                        return  # the request was served; its answer is lost on the way
                    writer.write(data)
                    await writer.drain()
            finally:
                pump.cancel()
                up_writer.close()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]
