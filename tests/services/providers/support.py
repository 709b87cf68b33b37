"""Helpers of the providers tests: a real server over the embedded store, and a small directory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.mongo import Document
from services.providers.app import create_server
from services.providers.config import ProvidersConfig, parse_config
from services.providers.importer import DirectoryImport
from services.providers.repository import DirectoryRepository
from services.providers.settings import ProvidersSettings
from tests import grpc_callers

# The directory the tests look things up in: rows as a customer's CSV would have them.
DIRECTORY_ROWS: list[dict[str, Any]] = [
    {
        "Company": "TechFlow, Inc.",
        "Website": "https://www.techflow.io",
        "Industry": "Software as a Service",
        "Employees": "51-200",
        "Annual Revenue": "$12.5M",
        "Country": "US",
    },
    {
        "First Name": "Mike",
        "Last Name": "Chen",
        "Email": "Mike.Chen@TechFlow.io",
        "Title": "Sr. Dir. RevOps",
        "Company": "TechFlow",
        "Website": "techflow.io",
        "Phone": "+1 650 555 0173",
        "LinkedIn": "https://uk.linkedin.com/in/mike-chen-techflow/",
    },
    {
        "First Name": "Ana",
        "Last Name": "Lopez",
        "Email": "ana@techflow.io",
        "Title": "CEO & Co-Founder",
        "Company": "TechFlow",
    },
    {
        "First Name": "Raj",
        "Last Name": "Patel",
        "Email": "raj@techflow.io",
        "Title": "Software Engineer",
        "Company": "TechFlow",
    },
    {
        "First Name": "Lena",
        "Last Name": "Berg",
        "Email": "lena@techflow.io",
        "Title": "VP Marketing",
        "Company": "TechFlow",
    },
    {
        "First Name": "Tom",
        "Last Name": "Ng",
        "Email": "tom@techflow.io",
        "Title": "Account Executive",
        "Company": "TechFlow",
    },
    {
        "Company": "Globex Corporation",
        "Website": "globex.com",
        "Industry": "Manufacturing",
        "Employees": "12000",
        "Annual Revenue": "2.1 billion",
    },
    {
        "First Name": "John",
        "Last Name": "Smith",
        "Email": "john.smith@globex.com",
        "Title": "Plant Manager",
        "Company": "Globex",
    },
    {
        "First Name": "John",
        "Last Name": "Smith",
        "Email": "jsmith2@globex.com",
        "Title": "Buyer",
        "Company": "Globex",
    },
    {
        "Name": "Priya Nair",
        "Title": "Head of Growth",
        "Company": "Initech",
        "LinkedIn": "linkedin.com/in/priyanair",
    },
]


async def load_directory(db: AsyncDatabase[Document], rows: list[dict[str, Any]] = DIRECTORY_ROWS) -> None:
    repository = DirectoryRepository(db)
    await repository.ensure_indexes()
    loader = DirectoryImport(repository, source="test")
    await loader.add_all(enumerate(rows, start=2))
    report = await loader.finish()
    assert not report.rejected, report.rejected


def make_settings(**overrides: Any) -> ProvidersSettings:
    return ProvidersSettings(**{"shutdown_grace": 1, "providers_allow_private_urls": True, **overrides})


@asynccontextmanager
async def serve(
    db: AsyncDatabase[Document], config: ProvidersConfig | dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[pb_grpc.ProvidersServiceStub]:
    """A providers server on a free port over ``db`` with ``config``, and a stub to call it."""
    if isinstance(config, dict):
        config = parse_config(json.dumps(config), {"VENDOR_KEY": "secret-key"})
    service = await create_server(db, make_settings(**settings), "127.0.0.1:0", config)
    port = await service.start()
    try:
        async with grpc_callers.channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.ProvidersServiceStub(channel)
    finally:
        await service.stop()
