"""Composes enrichment from a database handle into a ``libs.service`` Service: the stubs of the
services it calls, the pipeline and the gRPC server around it."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.enrichment.v1 import enrichment_service_pb2_grpc as pb_grpc
from leadmesh.intent.v1 import intent_service_pb2_grpc as intent_grpc
from leadmesh.providers.v1 import providers_service_pb2_grpc as providers_grpc
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as scoring_grpc
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as verifier_grpc
from libs.caller_auth import CallerAuth, ServerTls, method_scopes
from libs.channels import CallerCredential, ChannelPool
from libs.grpc_clients import GrpcClients
from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping
from libs.periodic import Every
from libs.privacy_service import PRIVACY_SCOPES, privacy_service
from libs.service import Service
from services.enrichment.downstream import Downstream
from services.enrichment.pipeline import Pipeline
from services.enrichment.privacy import declared
from services.enrichment.repository import RecordRepository
from services.enrichment.servicer import EnrichmentServicer
from services.enrichment.settings import EnrichmentSettings

__all__ = ["SCOPES", "SERVICE_NAME", "create_server"]

SERVICE_NAME = "leadmesh.enrichment.v1.EnrichmentService"
# The scope each RPC needs (README "Calling the gRPC services"); an RPC missing here is denied.
SCOPES = (
    method_scopes(
        SERVICE_NAME,
        {"EnrichLead": "enrich", "EnrichBatch": "enrich", "GetEnrichment": "enrich"},
    )
    | PRIVACY_SCOPES
)


def downstream(channels: ChannelPool, settings: EnrichmentSettings) -> Downstream:
    return Downstream(
        providers=providers_grpc.ProvidersServiceStub(channels.get(settings.providers_addr)),
        verifier=verifier_grpc.VerifierServiceStub(channels.get(settings.verifier_addr)),
        intent=intent_grpc.IntentServiceStub(channels.get(settings.intent_addr)),
        scoring=scoring_grpc.ScoringServiceStub(channels.get(settings.scoring_addr)),
        billing=billing_grpc.BillingServiceStub(channels.get(settings.billing_addr)),
    )


async def create_server(db: AsyncDatabase[Document], settings: EnrichmentSettings, address: str) -> Service:
    """The (unstarted) service, which closes its channels to the services it calls once it has
    stopped. Readiness follows the store only: the services it calls degrade answers, they do not
    make it unready."""
    repository = RecordRepository(db, settings.enrichment_coalesce_limit)
    await repository.ensure_indexes()
    channels = ChannelPool(
        credential=CallerCredential.of(settings), default_timeout=settings.enrichment_providers_timeout
    )
    pipeline = Pipeline(downstream(channels, settings), repository, settings)
    servicer = EnrichmentServicer(pipeline, settings.enrichment_max_batch)
    privacy = privacy_service(db, declared())
    server = GrpcServer(
        name="enrichment",
        address=address,
        services={
            SERVICE_NAME: lambda server: pb_grpc.add_EnrichmentServiceServicer_to_server(servicer, server),
            privacy[0]: privacy[1],
        },
        readiness=[lambda: ping(db)],
        grace=settings.shutdown_grace,
        max_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
        auth=CallerAuth.of(settings, SCOPES, GrpcClients(db).revoked_ids),
        tls=ServerTls.of(settings),
    )
    retention = Every(settings.record_purge_interval, pipeline.purge_expired)
    return Service(server, parts=[retention], closers=[channels.close])
