from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.scoring.v1 import scoring_service_pb2_grpc as pb_grpc
from libs.mongo import Document
from services.scoring.app import create_server
from services.scoring.settings import ScoringSettings
from tests import grpc_callers

MAX_MESSAGE = 64 * 1024 * 1024


@pytest_asyncio.fixture
async def scoring(db: AsyncDatabase[Document]) -> AsyncIterator[pb_grpc.ScoringServiceStub]:
    """A scoring server on a free port over a fresh database, and a stub to call it."""
    server = await create_server(
        db, ScoringSettings(shutdown_grace=1, scoring_max_batch=20_000), "127.0.0.1:0"
    )
    port = await server.start()
    async with grpc_callers.channel(
        f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", MAX_MESSAGE)]
    ) as channel:
        yield pb_grpc.ScoringServiceStub(channel)
    await server.stop()
