"""Providers fixtures: a real server over the embedded store, loaded with a small directory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.mongo import Document
from tests.services.providers.support import load_directory, serve


@pytest_asyncio.fixture
async def providers(db: AsyncDatabase[Document]) -> AsyncIterator[pb_grpc.ProvidersServiceStub]:
    """The service with only the directory, loaded with DIRECTORY_ROWS."""
    await load_directory(db)
    async with serve(db) as stub:
        yield stub
