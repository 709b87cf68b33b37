"""Composes batch's two roles from a database handle and the broker, each a ``libs.service``
Service: the gRPC server (uploads, job state, result CSVs) and the worker (chunk, dead-chunk and
webhook consumers, and the sweep of jobs the broker failed to queue)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from aio_pika.abc import AbstractRobustConnection
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.batch.v1 import batch_events_pb2 as events_pb
from leadmesh.batch.v1 import batch_service_pb2 as pb
from leadmesh.batch.v1 import batch_service_pb2_grpc as pb_grpc
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.enrichment.v1 import enrichment_service_pb2_grpc as enrichment_grpc
from leadmesh.intent.v1 import intent_service_pb2_grpc as intent_grpc
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as verifier_grpc
from libs import amqp
from libs.caller_auth import CallerAuth, ServerTls, method_scopes
from libs.channels import CallerCredential, ChannelPool
from libs.grpc_clients import GrpcClients
from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping, utc_now
from libs.periodic import Every
from libs.privacy_service import PRIVACY_SCOPES, privacy_service
from libs.queue_depths import QueueDepths
from libs.safe_http import OutboundPolicy, guarded_client
from libs.service import Service
from services.batch.intake import Intake, queue_job
from services.batch.jobs import job_message
from services.batch.lifecycle import JobLifecycle
from services.batch.prefetch import IntentPrefetch
from services.batch.privacy import declared
from services.batch.recheck import GreylistRecheck
from services.batch.repository import JobRepository
from services.batch.retention import JobRetention
from services.batch.servicer import BatchServicer
from services.batch.settings import BatchSettings
from services.batch.signing import WebhookSecrets
from services.batch.webhooks import WEBHOOK_QUEUE, WebhookDeliverer
from services.batch.worker import ChunkWorker, chunk_queue

__all__ = ["SCOPES", "SERVICE_NAME", "BrokerLink", "Consumers", "create_server", "create_worker"]

log = logging.getLogger(__name__)

SERVICE_NAME = "leadmesh.batch.v1.BatchService"
# The scope each RPC needs (README "Calling the gRPC services"); an RPC missing here is denied.
SCOPES = (
    method_scopes(
        SERVICE_NAME,
        {
            "CreateJob": "jobs",
            "GetJob": "jobs",
            "WatchJob": "jobs",
            "ListJobs": "jobs",
            "CancelJob": "jobs",
            "GetJobResult": "jobs",
            "GetWebhookSecret": "jobs",
            "RotateWebhookSecret": "jobs",
        },
    )
    | PRIVACY_SCOPES
)
COMPLETED_ROUTING_KEY = "batch.job.completed"
# Finished-job events for whoever integrates with them (CRM syncs, notifications); kept a day.
COMPLETED_QUEUE = amqp.QueueSpec("batch.jobs.completed", (COMPLETED_ROUTING_KEY,), message_ttl_ms=86_400_000)


@dataclass
class BrokerLink:
    """The process's link to the broker (a part of the service, see ``libs.service``): one
    connection, its publisher, and the webhook deliverer with its HTTP client. ``start()``
    declares every queue this process publishes into, so that a job uploaded while no worker
    runs waits in its queue; ``stop()`` closes them."""

    connection: AbstractRobustConnection
    publisher: amqp.Publisher
    http: httpx.AsyncClient
    webhooks: WebhookDeliverer
    queues: list[amqp.QueueSpec]

    async def start(self) -> None:
        channel = await self.connection.channel()
        await amqp.declare_topology(channel, self.queues)
        await channel.close()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.publisher.close()
        await self.connection.close()
        await self.http.aclose()

    async def job_finished(self, job: Document) -> None:
        """Publish ``batch.job.completed`` and the job's first webhook delivery."""
        message = job_message(job)
        await self.publisher.publish(
            COMPLETED_ROUTING_KEY,
            events_pb.JobCompleted(
                job_id=message.job_id,
                account_id=message.account_id,
                state=message.state,
                counts=message.counts,
                credits_used=message.credits_used,
                end_time=message.end_time,
            ),
            message_id=f"{message.job_id}:completed",
        )
        await self.webhooks.schedule(message)


def webhook_secrets(db: AsyncDatabase[Document], settings: BatchSettings) -> WebhookSecrets:
    master = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    return WebhookSecrets(db, master, settings.webhook_secret_grace)


async def _link(
    repository: JobRepository, settings: BatchSettings, amqp_url: str, secrets: WebhookSecrets
) -> BrokerLink:
    connection = await amqp.connect(amqp_url)
    publisher = await amqp.Publisher.open(connection)
    http = guarded_client(
        OutboundPolicy.from_cidrs(
            settings.batch_webhook_allowed_networks, settings.batch_webhook_allowed_ports
        ),
        timeout=settings.batch_webhook_timeout,
        follow_redirects=False,
    )

    async def load_job(account_id: str, job_id: str) -> pb.Job | None:
        found = await repository.job(job_id)  # a test-mode job or a live one
        return None if found is None or found["account_id"] != account_id else job_message(found)

    webhooks = WebhookDeliverer(
        load_job=load_job,
        publisher=publisher,
        client=http,
        signing_secrets=secrets.signing,
        max_attempts=settings.batch_webhook_max_attempts,
        base_delay=settings.batch_webhook_base_delay,
        timeout=settings.batch_webhook_timeout,
    )
    queues = [COMPLETED_QUEUE, chunk_queue(settings), WEBHOOK_QUEUE]
    return BrokerLink(connection, publisher, http, webhooks, queues)


async def create_server(
    db: AsyncDatabase[Document], settings: BatchSettings, address: str, amqp_url: str | None = None
) -> Service:
    """The (unstarted) gRPC server role: uploads, job state and result CSVs, ready while the store
    and the broker answer."""
    repository = JobRepository(db)
    await repository.ensure_indexes()
    secrets = webhook_secrets(db, settings)
    link = await _link(repository, settings, amqp_url or settings.amqp_url, secrets)
    channels = ChannelPool(
        credential=CallerCredential.of(settings), default_timeout=settings.batch_billing_timeout
    )
    billing = billing_grpc.BillingServiceStub(channels.get(settings.billing_addr))
    prefetch = (
        IntentPrefetch(
            intent_grpc.IntentServiceStub(channels.get(settings.intent_addr)),
            settings.batch_intent_prefetch_concurrency,
            settings.batch_intent_prefetch_timeout,
        )
        if settings.batch_intent_prefetch
        else None
    )
    intake = Intake(repository, billing, link.publisher, settings, link.job_finished, prefetch)
    servicer = BatchServicer(intake, JobLifecycle(repository), secrets)

    privacy = privacy_service(db, declared())

    async def broker_open() -> bool:
        return not link.connection.is_closed

    server = GrpcServer(
        name="batch",
        address=address,
        services={
            SERVICE_NAME: lambda server: pb_grpc.add_BatchServiceServicer_to_server(servicer, server),
            privacy[0]: privacy[1],
        },
        readiness=[lambda: ping(db), broker_open],
        grace=settings.shutdown_grace,
        max_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
        auth=CallerAuth.of(settings, SCOPES, GrpcClients(db).revoked_ids),
        tls=ServerTls.of(settings),
    )
    retention = JobRetention(repository, settings.record_retention_days, settings.batch_spool_dir)
    purge = Every(settings.record_purge_interval, retention.purge)
    closers = [channels.close] if prefetch is None else [channels.close, prefetch.close]
    return Service(server, parts=[link, purge], closers=closers)


@dataclass
class Consumers:
    """Consumers of ``batch.chunks``, ``batch.chunks.dead`` and ``batch.webhooks``, and the gauge
    of their depths (a part of the worker)."""

    worker: ChunkWorker
    link: BrokerLink
    settings: BatchSettings
    consumers: list[amqp.Consumer] = field(default_factory=list)
    depths: QueueDepths | None = None

    async def start(self) -> None:
        connection = self.link.connection
        channel = await connection.channel()
        spec = chunk_queue(self.settings)
        self.consumers.append(
            await amqp.consume(
                channel,
                spec,
                events_pb.ChunkReady,
                self.worker.handle,
                prefetch=self.settings.batch_worker_prefetch,
            )
        )
        dead_channel = await connection.channel()
        await dead_channel.set_qos(prefetch_count=1)
        dead = await dead_channel.declare_queue(spec.dead_letter_queue, durable=True)
        self.consumers.append(amqp.Consumer(dead, await dead.consume(self.worker.handle_dead)))
        webhook_channel = await connection.channel()
        self.consumers.append(await self.link.webhooks.start(webhook_channel))
        self.depths = QueueDepths(connection, [spec.name, spec.dead_letter_queue, WEBHOOK_QUEUE.name])
        await self.depths.start()
        log.info("batch worker consuming", extra={"queue": spec.name})

    async def stop(self) -> None:
        """Unacked chunks go back to the queue for another worker."""
        if self.depths is not None:
            await self.depths.stop()
        for consumer in self.consumers:
            with contextlib.suppress(Exception):
                await consumer.cancel()


async def create_worker(
    db: AsyncDatabase[Document], settings: BatchSettings, amqp_url: str | None = None
) -> Service:
    """The (unstarted) worker role: the consumers, and the sweep that queues jobs whose upload
    stored them but could not queue them (any worker may; a chunk queued twice is handled once)."""
    repository = JobRepository(db)
    await repository.ensure_indexes()
    link = await _link(repository, settings, amqp_url or settings.amqp_url, webhook_secrets(db, settings))
    channels = ChannelPool(
        credential=CallerCredential.of(settings), default_timeout=settings.batch_billing_timeout
    )
    recheck = (
        GreylistRecheck(
            repository,
            verifier_grpc.VerifierServiceStub(channels.get(settings.verifier_addr)),
            settings.batch_greylist_recheck_wait,
            settings.batch_verifier_timeout,
        )
        if settings.batch_greylist_recheck_wait
        else None
    )
    worker = ChunkWorker(
        repository,
        enrichment_grpc.EnrichmentServiceStub(channels.get(settings.enrichment_addr)),
        billing_grpc.BillingServiceStub(channels.get(settings.billing_addr)),
        settings,
        link.job_finished,
        recheck,
    )

    async def sweep_stalled_jobs() -> None:
        before = utc_now() - timedelta(seconds=settings.batch_sweep_age)
        for job in await repository.stalled_jobs(before):
            log.warning("queueing a stalled job", extra={"job_id": job["_id"]})
            await queue_job(repository, link.publisher, job, link.job_finished)

    sweep = Every(settings.batch_sweep_interval, sweep_stalled_jobs)
    return Service(parts=[link, Consumers(worker, link, settings), sweep], closers=[channels.close])
