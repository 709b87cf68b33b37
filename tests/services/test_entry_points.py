"""Every service's real entry point (``python -m services.<name>``, and ``python -m services.batch
worker``) started as production starts it, with OTLP export to a receiver on loopback: each
serves, exports its metrics under ``leadmesh-<name>`` and exits cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as providers_pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as providers_grpc
from libs.embedded_store import free_port
from libs.mongo import Document
from tests import grpc_callers
from tests.otlp_receiver import OtlpReceiver
from tests.service_processes import ServiceProcess, service_env

# Each gRPC service and a method of it called once (an empty request: any answer records the call).
CALLED = {
    "billing": "/leadmesh.billing.v1.BillingService/GetAccount",
    "scoring": "/leadmesh.scoring.v1.ScoringService/GetIcpProfile",
    "verifier": "/leadmesh.verifier.v1.VerifierService/Verify",
    "intent": "/leadmesh.intent.v1.IntentService/GetSignals",
    "enrichment": "/leadmesh.enrichment.v1.EnrichmentService/GetEnrichment",
    "batch": "/leadmesh.batch.v1.BatchService/GetJob",
}
SERVICES = (*CALLED, "providers")


async def call_once(address: str, method: str) -> None:
    async with grpc_callers.channel(address) as channel:
        try:
            await channel.unary_unary(method)(b"", timeout=10)
        except grpc.aio.AioRpcError as error:  # an empty request is refused, and the call counted
            assert error.code() != grpc.StatusCode.UNIMPLEMENTED, method


async def look_up(address: str) -> None:
    async with grpc_callers.channel(address) as channel:
        request = providers_pb.LookupRequest(
            account_id="acct_1", lead=common.LeadInput(email="jane@initech.com")
        )
        await providers_grpc.ProvidersServiceStub(channel).Lookup(request, timeout=10)


async def test_each_service_and_the_batch_worker_export_their_metrics_and_stop_cleanly(
    db: AsyncDatabase[Document], mongo_uri: str, amqp_url: str, repo_root: Path, tmp_path: Path
) -> None:
    receiver = OtlpReceiver()
    addresses = {name: f"127.0.0.1:{free_port()}" for name in SERVICES}
    env = service_env(
        repo_root,
        LEADMESH_MONGODB_URI=mongo_uri,
        LEADMESH_MONGODB_DATABASE=db.name,
        LEADMESH_AMQP_URL=amqp_url,
        LEADMESH_LOG_LEVEL="WARNING",
        LEADMESH_SHUTDOWN_GRACE="1",
        LEADMESH_WEBHOOK_SECRET="entry-points-test-master-secret-0123456789",
        OTEL_EXPORTER_OTLP_ENDPOINT=await receiver.start(),
        OTEL_METRIC_EXPORT_INTERVAL="500",
        **{f"LEADMESH_{name.upper()}_ADDR": address for name, address in addresses.items()},
    )
    processes = {name: ServiceProcess.start(name, [f"services.{name}"], env, tmp_path) for name in SERVICES}
    processes["batch-worker"] = ServiceProcess.start(
        "batch-worker", ["services.batch", "worker"], env, tmp_path
    )
    try:
        await asyncio.gather(*(processes[name].wait_serving(addresses[name], "") for name in SERVICES))
        await asyncio.gather(*(call_once(addresses[name], method) for name, method in CALLED.items()))
        await look_up(addresses["providers"])
        await receiver.wait_for(
            {
                **{f"leadmesh-{name}": {"rpc.server.duration"} for name in CALLED},
                "leadmesh-providers": {"rpc.server.duration", "leadmesh.providers.lookups"},
                "leadmesh-batch-worker": {"leadmesh.messaging.queue.depth"},
            },
            timeout=30,
        )
        for process in processes.values():
            process.terminate()
        codes = await asyncio.gather(*(process.stop() for process in processes.values()))
        assert codes == [0] * len(processes), [p.exited() for p in processes.values() if p.process.returncode]
    finally:
        await asyncio.gather(*(process.stop() for process in processes.values()))
        await receiver.stop()
