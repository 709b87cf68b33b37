from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
import uvicorn
from pymongo.asynchronous.database import AsyncDatabase

from gateway.app import create_app
from gateway.settings import GatewaySettings
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.intent.v1 import intent_service_pb2_grpc as intent_grpc
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as scoring_grpc
from libs.embedded_store import free_port
from libs.mongo import Document
from services.billing.app import create_server
from services.billing.settings import BillingSettings
from services.intent.app import create_server as create_intent_server
from services.intent.settings import IntentSettings
from services.scoring.app import create_server as create_scoring_server
from services.scoring.settings import ScoringSettings
from tests import grpc_callers
from tests.gateway.stack import Stack
from tests.waiting import eventually


@pytest_asyncio.fixture
async def stack(db: AsyncDatabase[Document]) -> AsyncIterator[Stack]:
    billing_server = await create_server(db, BillingSettings(shutdown_grace=1), "127.0.0.1:0")
    billing_port = await billing_server.start()
    scoring_server = await create_scoring_server(db, ScoringSettings(shutdown_grace=1), "127.0.0.1:0")
    scoring_port = await scoring_server.start()
    intent_server = await create_intent_server(
        db,
        IntentSettings(  # no worker; job boards on an address the outbound policy refuses
            scoring_addr=f"127.0.0.1:{scoring_port}",
            intent_greenhouse_base_url="http://127.0.0.1:9",
            intent_lever_base_url="http://127.0.0.1:9",
            shutdown_grace=1,
        ),
        "127.0.0.1:0",
    )
    intent_port = await intent_server.start()
    settings = GatewaySettings(
        billing_addr=f"127.0.0.1:{billing_port}",
        scoring_addr=f"127.0.0.1:{scoring_port}",
        intent_addr=f"127.0.0.1:{intent_port}",
        rpc_timeout=2.0,
        gateway_dependencies=["billing", "scoring"],
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, proxy_headers=False
        )
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        grpc_callers.channel(f"127.0.0.1:{billing_port}") as channel,
        grpc_callers.channel(f"127.0.0.1:{scoring_port}") as scoring_channel,
        grpc_callers.channel(f"127.0.0.1:{intent_port}") as intent_channel,
    ):
        yield Stack(
            http,
            billing_grpc.BillingServiceStub(channel),
            billing_server,
            scoring_grpc.ScoringServiceStub(scoring_channel),
            scoring_server,
            intent=intent_grpc.IntentServiceStub(intent_channel),
            intent_server=intent_server,
        )
    server.should_exit = True
    await task
    await billing_server.stop()
    await scoring_server.stop()
    await intent_server.stop()
