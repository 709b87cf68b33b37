"""Composes the providers service from a database handle and its configuration into a
``libs.service`` Service: the lookup, the gRPC server around it and the periodic cache purge."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.caller_auth import CallerAuth, ServerTls, method_scopes
from libs.grpc_clients import GrpcClients
from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping
from libs.periodic import Every
from libs.privacy import SubjectHasher
from libs.privacy_service import PRIVACY_SCOPES, privacy_service
from libs.safe_http import OutboundPolicy, guarded_client
from libs.service import Service
from services.providers.adapters import build_external
from services.providers.adapters.directory import DirectoryProvider
from services.providers.cache import MongoLookupCache
from services.providers.config import ProvidersConfig
from services.providers.domain.waterfall import Waterfall, WaterfallPolicy
from services.providers.lookup import ProviderLookup
from services.providers.privacy import ErasureAudit, declared, suppress_first
from services.providers.repository import DirectoryRepository
from services.providers.servicer import ProvidersServicer
from services.providers.settings import ProvidersSettings
from services.providers.suppressions import SuppressionList

__all__ = ["SCOPES", "SERVICE_NAME", "Resources", "create_lookup", "create_server", "outbound_policy"]

SERVICE_NAME = "leadmesh.providers.v1.ProvidersService"
# The scope each RPC needs (README "Calling the gRPC services"); an RPC missing here is denied.
SCOPES = (
    method_scopes(
        SERVICE_NAME,
        {
            "Lookup": "providers",
            "LookupBatch": "providers",
            "FindContacts": "providers",
            "AddSuppressions": "providers",
            "ListSuppressions": "providers",
            "DeleteSuppression": "providers",
            "RecordErasure": "privacy:admin",
        },
    )
    | PRIVACY_SCOPES
)


@dataclass
class Resources:
    """What the lookup opened and must close at shutdown (the one pooled HTTP client), and the
    lookup cache the service purges periodically."""

    http: httpx.AsyncClient
    cache: MongoLookupCache
    suppressions: SuppressionList

    async def close(self) -> None:
        await self.http.aclose()


def outbound_policy(settings: ProvidersSettings) -> OutboundPolicy:
    """Where provider calls may connect: public addresses and the allowed networks, or anywhere
    when private URLs are allowed (tests with loopback vendors)."""
    if settings.providers_allow_private_urls:
        return OutboundPolicy.from_cidrs(["0.0.0.0/0", "::/0"])
    return OutboundPolicy.from_cidrs(settings.providers_allowed_networks)


async def create_lookup(
    db: AsyncDatabase[Document], settings: ProvidersSettings, config: ProvidersConfig
) -> tuple[ProviderLookup, Resources]:
    """The lookup use cases over ``db`` with the configured providers (indexes ensured)."""
    repository = DirectoryRepository(
        db, settings.providers_directory_point_queries, settings.providers_company_cache_ttl
    )
    await repository.ensure_indexes()
    secret = settings.privacy_hash_secret
    suppressions = SuppressionList(db, SubjectHasher(secret.get_secret_value()) if secret else None)
    await suppressions.ensure_indexes()
    await suppressions.reload()
    cache = MongoLookupCache(db, suppressions.erased)
    await cache.ensure_indexes()
    limits = httpx.Limits(
        max_connections=settings.providers_http_max_connections,
        max_keepalive_connections=settings.providers_http_max_connections,
    )
    http = guarded_client(
        outbound_policy(settings), limits=limits, timeout=httpx.Timeout(10.0), follow_redirects=False
    )
    directory = DirectoryProvider(repository, timeout=settings.providers_directory_timeout)
    providers = [directory, *build_external(config, http)]
    waterfall = Waterfall(
        cache,
        WaterfallPolicy(
            threshold=settings.providers_confidence_threshold,
            failure_penalty=settings.providers_failure_penalty,
        ),
    )
    lookup = ProviderLookup(
        providers,
        config.order,
        waterfall,
        repository,
        max_batch=settings.providers_max_batch,
        suppressions=suppressions,
    )
    return lookup, Resources(http, cache, suppressions)


async def create_server(
    db: AsyncDatabase[Document],
    settings: ProvidersSettings,
    address: str,
    config: ProvidersConfig | None = None,
) -> Service:
    """The (unstarted) service, which purges the lookup cache periodically and closes its HTTP
    client once it has stopped."""
    lookup, resources = await create_lookup(db, settings, config or ProvidersConfig())
    audit = ErasureAudit(db)
    servicer = ProvidersServicer(lookup, resources.suppressions, audit)
    privacy = privacy_service(
        db, declared(DirectoryRepository(db)), before=suppress_first(resources.suppressions, audit)
    )
    server = GrpcServer(
        name="providers",
        address=address,
        services={
            SERVICE_NAME: lambda server: pb_grpc.add_ProvidersServiceServicer_to_server(servicer, server),
            privacy[0]: privacy[1],
        },
        readiness=[lambda: ping(db)],
        grace=settings.shutdown_grace,
        max_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
        auth=CallerAuth.of(settings, SCOPES, GrpcClients(db).revoked_ids),
        tls=ServerTls.of(settings),
    )
    purge = Every(settings.providers_cache_purge_interval, resources.cache.purge_expired)
    reload = Every(settings.providers_suppression_refresh, resources.suppressions.reload)
    return Service(server, parts=[purge, reload], closers=[resources.close])
