"""The whole mesh on loopback for the enrichment tests and benchmark: billing, providers (with the
providers tests' directory), verifier (loopback DNS + SMTP), scoring, intent (loopback job board
and homepage, RabbitMQ when given), enrichment, and the gateway on a free port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from pymongo.asynchronous.database import AsyncDatabase

from gateway.app import create_app
from gateway.settings import GatewaySettings
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.enrichment.v1 import enrichment_service_pb2_grpc as enrichment_grpc
from libs.embedded_store import free_port
from libs.mongo import Document
from libs.service import Service
from services.batch.app import create_server as create_batch
from services.batch.app import create_worker as create_batch_worker
from services.batch.settings import BatchSettings
from services.billing.app import create_server as create_billing
from services.billing.settings import BillingSettings
from services.enrichment.app import create_server as create_enrichment
from services.enrichment.settings import EnrichmentSettings
from services.intent.app import create_server as create_intent
from services.intent.settings import IntentSettings
from services.providers.app import create_server as create_providers
from services.providers.config import ProvidersConfig
from services.scoring.app import create_server as create_scoring
from services.scoring.settings import ScoringSettings
from services.verifier.app import create_server as create_verifier
from services.verifier.settings import VerifierSettings
from tests import grpc_callers
from tests.services.intent.web import SITE, Page, Web
from tests.services.providers.support import load_directory, make_settings
from tests.services.verifier.mailservers import CatchAll, KnownMailboxes, LoopbackDns, MailFarm
from tests.waiting import eventually

# The key of the keyed hashes kept of suppressed and erased people (LEADMESH_PRIVACY_HASH_SECRET).
PRIVACY_SECRET = "test-privacy-hash-secret-0123456789"
MAILBOXES = ["mike.chen@techflow.io", "ana@techflow.io", "lena@techflow.io", "tom@techflow.io"]
TECHFLOW_HOME = """<html><head>
<script async src="https://js.hs-scripts.com/123456.js"></script></head><body>TechFlow</body></html>"""


def _job(title: str, days_ago: float) -> dict[str, object]:
    when = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    return {"id": abs(hash(title)) % 10**8, "title": title, "updated_at": when, "first_published": when}


async def start_mail() -> tuple[MailFarm, LoopbackDns]:
    farm = await MailFarm({"mx-known": KnownMailboxes(MAILBOXES), "mx-catchall": CatchAll()}).start()
    records: dict[str, dict[str, list[str]]] = {
        f"{name}.lmtest": {"A": [address]} for name, address in farm.addresses.items()
    }
    records["techflow.io"] = {"MX": ["10 mx-known.lmtest."]}
    records["globex.com"] = {"MX": ["10 mx-catchall.lmtest."]}
    dns = await LoopbackDns(records).start()
    return farm, dns


async def start_web() -> tuple[Web, dict[str, str]]:
    web = Web()
    await web.start()
    web.pages["/greenhouse/v1/boards/techflow/jobs?content=true"] = Page.json(
        {"jobs": [_job("Sales Operations Manager", 2), _job("Account Executive", 4)], "meta": {"total": 2}}
    )
    web.pages["/sites/techflow/"] = Page.html(TECHFLOW_HOME)
    return web, {"techflow.io": web.url("/sites/techflow/")}


@dataclass
class Mesh:
    http: httpx.AsyncClient
    billing: billing_grpc.BillingServiceStub
    enrichment: enrichment_grpc.EnrichmentServiceStub
    servers: dict[str, Any] = field(default_factory=dict)
    # Where each service listens: {"providers": "127.0.0.1:port", ...}.
    addresses: dict[str, str] = field(default_factory=dict)

    async def new_account(self, credits: int = 100) -> tuple[str, str]:
        created = await self.billing.CreateAccount(
            billing_pb.CreateAccountRequest(name="Acme", initial_credits=credits, create_api_key=True)
        )
        return created.account.account_id, created.api_key_secret

    async def balance(self, account_id: str) -> int:
        got = await self.billing.GetBalance(billing_pb.GetBalanceRequest(account_id=account_id))
        return int(got.balance)

    async def stop(self, name: str) -> None:
        """Stops one service of the pipeline (``verifier``, ``intent``, ``scoring``)."""
        await self.servers[name].stop()


@asynccontextmanager
async def running_mesh(
    db: AsyncDatabase[Document],
    amqp_url: str | None = None,
    batch: BatchSettings | None = None,
    batch_worker: bool = True,
    enrichment_settings: dict[str, Any] | None = None,
    providers_config: ProvidersConfig | None = None,
    intent_settings: dict[str, Any] | None = None,
    verifier_settings: dict[str, Any] | None = None,
    **gateway: Any,
) -> AsyncIterator[Mesh]:
    """With ``batch`` (and ``amqp_url``), also the batch server and, unless ``batch_worker`` is
    false, one in-process batch worker; ``enrichment_settings``, ``intent_settings`` and
    ``verifier_settings`` override those services', ``providers_config`` gives providers vendors.
    The loopback mail farm, DNS and web server are ``servers["mail"]`` (also ``servers["farm"]``),
    ``servers["dns"]`` and ``servers["web"]``."""
    async with AsyncExitStack() as stack:
        farm, dns = await start_mail()
        stack.push_async_callback(farm.stop)
        stack.push_async_callback(dns.stop)
        web, homepages = await start_web()
        stack.push_async_callback(web.stop)
        await load_directory(db)

        async def serve(service: Service) -> str:
            port = await service.start()
            stack.push_async_callback(service.stop)
            return f"127.0.0.1:{port}"

        billing = await create_billing(
            db, BillingSettings(shutdown_grace=0.5, free_tier_monthly_credits=0), "127.0.0.1:0"
        )
        billing_addr = await serve(billing)
        providers = await create_providers(
            db,
            make_settings(shutdown_grace=0.5, privacy_hash_secret=PRIVACY_SECRET),
            "127.0.0.1:0",
            providers_config,
        )
        providers_addr = await serve(providers)
        verifier = await create_verifier(
            db,
            VerifierSettings(
                dns_nameservers=dns.nameserver,
                verifier_dns_timeout=1.0,
                verifier_smtp_port=farm.port,
                verifier_helo_name="verifier.lmtest",
                verifier_mail_from="probe@verifier.lmtest",
                verifier_allow_private_mx=True,
                verifier_connect_timeout=0.5,
                verifier_command_timeout=1.0,
                verifier_mx_rate=10_000.0,
                shutdown_grace=0.5,
                **(verifier_settings or {}),
            ),
            "127.0.0.1:0",
        )
        verifier_addr = await serve(verifier)
        scoring = await create_scoring(db, ScoringSettings(shutdown_grace=0.5), "127.0.0.1:0")
        scoring_addr = await serve(scoring)
        intent = await create_intent(
            db,
            IntentSettings(
                scoring_addr=scoring_addr,
                intent_homepage_overrides=homepages,
                intent_greenhouse_base_url=web.url("/greenhouse"),
                intent_lever_base_url=web.url("/lever"),
                intent_allowed_networks=[f"{SITE}/32"],
                **{
                    "intent_fetch_timeout": 2.0,
                    "intent_first_fetch_wait": 2.0,
                    "intent_scoring_timeout": 0.5,
                    "shutdown_grace": 0.5,
                    **(intent_settings or {}),
                },
            ),
            "127.0.0.1:0",
            amqp_url=amqp_url,
        )
        intent_addr = await serve(intent)
        addresses = {
            "billing_addr": billing_addr,
            "providers_addr": providers_addr,
            "verifier_addr": verifier_addr,
            "scoring_addr": scoring_addr,
            "intent_addr": intent_addr,
        }
        enrichment = await create_enrichment(
            db,
            EnrichmentSettings(**addresses, shutdown_grace=0.5, **(enrichment_settings or {})),
            "127.0.0.1:0",
        )
        enrichment_addr = await serve(enrichment)
        addresses["enrichment_addr"] = enrichment_addr
        servers: dict[str, Any] = {"mail": farm, "dns": dns, "web": web}
        if batch is not None:
            assert amqp_url, "CSV jobs need the broker"
            batch_settings = batch.model_copy(update=addresses)
            batch_server = await create_batch(db, batch_settings, "127.0.0.1:0", amqp_url)
            addresses["batch_addr"] = await serve(batch_server)
            servers.update(batch=batch_server, batch_settings=batch_settings)
            if batch_worker:
                worker = await create_batch_worker(db, batch_settings, amqp_url)
                await worker.start()
                stack.push_async_callback(worker.stop)
                servers["batch_worker"] = worker
        settings = GatewaySettings(**addresses, **gateway)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings), host="127.0.0.1", port=port, log_config=None, proxy_headers=False
            )
        )
        task = asyncio.create_task(server.serve())
        await eventually(lambda: server.started)

        async def stop_gateway() -> None:
            server.should_exit = True
            await task

        stack.push_async_callback(stop_gateway)
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=15.0)
        )
        billing_channel = await stack.enter_async_context(grpc_callers.channel(billing_addr))
        enrichment_channel = await stack.enter_async_context(grpc_callers.channel(enrichment_addr))
        yield Mesh(
            http,
            billing_grpc.BillingServiceStub(billing_channel),
            enrichment_grpc.EnrichmentServiceStub(enrichment_channel),
            {
                "verifier": verifier,
                "intent": intent,
                "scoring": scoring,
                "providers": providers,
                "enrichment": enrichment,
                "gateway_settings": settings,
                "web": web,
                "farm": farm,
                **servers,
            },
            {name.removesuffix("_addr"): address for name, address in addresses.items()},
        )
