from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.mongo import Document
from services.billing.app import create_server
from services.billing.settings import BillingSettings
from tests import grpc_callers


@pytest_asyncio.fixture
async def billing(db: AsyncDatabase[Document]) -> AsyncIterator[pb_grpc.BillingServiceStub]:
    """A billing server on a free port over a fresh database, and a stub to call it."""
    server = await create_server(db, BillingSettings(shutdown_grace=1), "127.0.0.1:0")
    port = await server.start()
    async with grpc_callers.channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.BillingServiceStub(channel)
    await server.stop()
