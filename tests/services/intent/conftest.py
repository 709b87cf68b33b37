from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.intent.v1 import intent_service_pb2_grpc as pb_grpc
from libs.mongo import Document
from libs.service import Service
from services.intent.app import create_server
from services.intent.settings import IntentSettings
from tests import grpc_callers
from tests.services.intent.companies import install
from tests.services.intent.web import SITE, Web


@pytest_asyncio.fixture
async def web() -> AsyncIterator[Web]:
    """The loopback site with the test companies' job boards and homepages."""
    site = Web()
    await site.start()
    yield site
    await site.stop()


def intent_settings(web: Web, **overrides: Any) -> IntentSettings:
    """Job boards and homepages on the loopback site; every other address refused as usual."""
    values: dict[str, Any] = {
        "intent_homepage_overrides": install(web),
        "intent_greenhouse_base_url": web.url("/greenhouse"),
        "intent_lever_base_url": web.url("/lever"),
        "intent_allowed_networks": [f"{SITE}/32"],
        "intent_fetch_timeout": 3.0,
        "intent_first_fetch_wait": 3.0,
        "intent_refresh_wait": 3.0,
        # Nothing in the tests may reach a real scoring service.
        "scoring_addr": "127.0.0.1:9",
        "intent_scoring_timeout": 0.2,
        "shutdown_grace": 1,
        **overrides,
    }
    return IntentSettings(**values)


@dataclass
class Intent:
    stub: pb_grpc.IntentServiceStub
    server: Service
    db: AsyncDatabase[Document]


IntentFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def start_intent(db: AsyncDatabase[Document]) -> AsyncIterator[IntentFactory]:
    """Starts intent servers on free ports over the test's database; all stopped afterwards."""
    started: list[tuple[Service, grpc.aio.Channel]] = []

    async def start(settings: IntentSettings, amqp_url: str | None = None) -> Intent:
        server = await create_server(db, settings, "127.0.0.1:0", amqp_url=amqp_url)
        port = await server.start()
        channel = grpc_callers.channel(f"127.0.0.1:{port}")
        started.append((server, channel))
        return Intent(pb_grpc.IntentServiceStub(channel), server, db)

    yield start
    for server, channel in reversed(started):
        await channel.close()
        await server.stop()


@pytest_asyncio.fixture
async def intent(web: Web, start_intent: IntentFactory) -> Intent:
    """An intent server whose sources are the loopback site."""
    result: Intent = await start_intent(intent_settings(web))
    return result
