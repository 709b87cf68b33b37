"""Composes intent from a database handle into a ``libs.service`` Service: the signal sources, the
gRPC server, the periodic purge and, when given a broker URL, the weekly refresh (scheduler and
worker) in the same process."""

from __future__ import annotations

from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.intent.v1 import intent_service_pb2_grpc as pb_grpc
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as scoring_grpc
from libs.caller_auth import CallerAuth, ServerTls, method_scopes
from libs.channels import CallerCredential, ChannelPool
from libs.grpc_clients import GrpcClients
from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping, utc_now
from libs.periodic import Every
from libs.privacy_service import PRIVACY_SCOPES, privacy_service
from libs.safe_http import OutboundPolicy, guarded_client
from libs.service import Closer, Part, Service
from services.intent.competitors import CompetitorDirectory
from services.intent.domain import HalfLives, default_catalog
from services.intent.event_store import EventStore
from services.intent.intent_signals import IntentPolicy, IntentSignals
from services.intent.privacy import declared
from services.intent.refresh import RefreshRunner
from services.intent.repository import IntentRepository
from services.intent.servicer import IntentServicer
from services.intent.settings import IntentSettings
from services.intent.sources.boards import JobBoards
from services.intent.sources.homepage import HomepageFetcher
from services.intent.weekly import RefreshBroker

__all__ = ["SCOPES", "SERVICE_NAME", "create_server", "create_signals"]

SERVICE_NAME = "leadmesh.intent.v1.IntentService"
# The scope each RPC needs (README "Calling the gRPC services"); an RPC missing here is denied.
SCOPES = (
    method_scopes(
        SERVICE_NAME,
        {"GetSignals": "intent", "GetSignalsBatch": "intent", "RecordEvents": "intent", "Refresh": "intent"},
    )
    | PRIVACY_SCOPES
)


# Raw first-party events are kept this much longer than they count.
EVENT_RETENTION_MARGIN_DAYS = 30


def _policy(settings: IntentSettings) -> IntentPolicy:
    return IntentPolicy(
        half_lives=HalfLives(
            hiring=settings.intent_half_life_hiring_days,
            technology=settings.intent_half_life_technology_days,
            engagement=settings.intent_half_life_engagement_days,
        ),
        engagement_window=timedelta(days=settings.intent_engagement_window_days),
        event_retention=timedelta(days=settings.intent_engagement_window_days + EVENT_RETENTION_MARGIN_DAYS),
        competitor_evaluation=timedelta(days=settings.intent_competitor_evaluation_days),
        retry_failed_after=timedelta(seconds=settings.intent_retry_failed_after),
        retry_failed_max=timedelta(seconds=settings.intent_retry_failed_max),
        min_refresh_interval=timedelta(seconds=settings.intent_min_refresh_interval),
        max_events=settings.intent_max_events,
        max_batch_domains=settings.intent_max_batch_domains,
        read_cache=settings.intent_read_cache_seconds,
    )


async def create_signals(
    db: AsyncDatabase[Document], settings: IntentSettings
) -> tuple[IntentSignals, list[Closer]]:
    """The intent use cases over ``db`` (indexes ensured) and what they opened, to close in reverse
    order at the end (the outbound HTTP client, the fetches in flight, the channel to scoring)."""
    repository = IntentRepository(db)
    await repository.ensure_indexes()
    events = EventStore(db)
    await events.ensure_indexes()
    http = guarded_client(
        OutboundPolicy.from_cidrs(settings.intent_allowed_networks),
        timeout=settings.intent_fetch_timeout,
        headers={"User-Agent": "leadmesh-intent/1.0 (+https://github.com/leadmesh)"},
    )
    catalog = default_catalog()
    runner = RefreshRunner(
        repository,
        JobBoards(
            http,
            greenhouse_base_url=settings.intent_greenhouse_base_url,
            lever_base_url=settings.intent_lever_base_url,
            overrides=settings.intent_board_overrides,
            max_bytes=settings.intent_board_max_bytes,
            timeout=settings.intent_fetch_timeout,
        ),
        HomepageFetcher(
            http,
            settings.intent_homepage_overrides,
            settings.intent_homepage_max_bytes,
            settings.intent_fetch_timeout,
        ),
        catalog,
        settings.intent_fetch_concurrency,
        utc_now,
        backoff=(
            timedelta(seconds=settings.intent_retry_failed_after),
            timedelta(seconds=max(settings.intent_retry_failed_max, settings.intent_retry_failed_after)),
        ),
    )
    channels = ChannelPool(
        credential=CallerCredential.of(settings), default_timeout=settings.intent_scoring_timeout
    )
    competitors = CompetitorDirectory(
        scoring_grpc.ScoringServiceStub(channels.get(settings.scoring_addr)),
        settings.intent_scoring_timeout,
        settings.intent_competitor_cache_seconds,
    )
    signals = IntentSignals(repository, events, runner, competitors, catalog, _policy(settings), utc_now)
    return signals, [http.aclose, runner.close, channels.close]


async def create_server(
    db: AsyncDatabase[Document], settings: IntentSettings, address: str, *, amqp_url: str | None = None
) -> Service:
    """Ensures indexes and returns the (unstarted) service; with ``amqp_url`` it also schedules and
    consumes the weekly refresh (a :class:`RefreshBroker` among its parts), and is ready only while
    the broker is connected."""
    signals, closers = await create_signals(db, settings)
    servicer = IntentServicer(signals, settings.intent_first_fetch_wait, settings.intent_refresh_wait)
    broker = (
        RefreshBroker(
            amqp_url,
            signals,
            signals.repository,
            prefetch=settings.intent_worker_prefetch,
            track_days=settings.intent_track_days,
            clock=utc_now,
            connect_wait=settings.intent_broker_connect_wait,
        )
        if amqp_url
        else None
    )
    privacy = privacy_service(db, declared())
    readiness = [lambda: ping(db)]
    parts: list[Part] = [Every(settings.intent_purge_interval, signals.purge_expired)]
    if broker is not None:
        readiness.append(broker.ready)
        parts += [broker, Every(settings.intent_schedule_interval, broker.schedule)]
    server = GrpcServer(
        name="intent",
        address=address,
        services={
            SERVICE_NAME: lambda server: pb_grpc.add_IntentServiceServicer_to_server(servicer, server),
            privacy[0]: privacy[1],
        },
        readiness=readiness,
        grace=settings.shutdown_grace,
        max_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
        auth=CallerAuth.of(settings, SCOPES, GrpcClients(db).revoked_ids),
        tls=ServerTls.of(settings),
    )
    return Service(server, parts=parts, closers=closers)
