"""Composes scoring from a database handle into a ``libs.service`` Service: the profiles and the
gRPC server around them."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.scoring.v1 import scoring_service_pb2_grpc as pb_grpc
from libs.caller_auth import CallerAuth, ServerTls, method_scopes
from libs.grpc_clients import GrpcClients
from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping
from libs.service import Service
from services.scoring.profiles import IcpProfiles
from services.scoring.repository import ScoringRepository
from services.scoring.servicer import ScoringServicer
from services.scoring.settings import ScoringSettings

__all__ = ["SCOPES", "SERVICE_NAME", "create_server"]

SERVICE_NAME = "leadmesh.scoring.v1.ScoringService"
# The scope each RPC needs (README "Calling the gRPC services"); an RPC missing here is denied.
SCOPES = method_scopes(
    SERVICE_NAME,
    {
        "GetIcpProfile": "score",
        "UpdateIcpProfile": "score",
        "ListIcpProfileVersions": "score",
        "Score": "score",
        "ScoreBatch": "score",
    },
)


async def create_server(db: AsyncDatabase[Document], settings: ScoringSettings, address: str) -> Service:
    """Ensures indexes and returns the (unstarted) service."""
    repository = ScoringRepository(db)
    await repository.ensure_indexes()
    servicer = ScoringServicer(
        IcpProfiles(repository), settings.scoring_max_batch, settings.scoring_batch_slice
    )
    server = GrpcServer(
        name="scoring",
        address=address,
        services={
            SERVICE_NAME: lambda server: pb_grpc.add_ScoringServiceServicer_to_server(servicer, server)
        },
        readiness=[lambda: ping(db)],
        grace=settings.shutdown_grace,
        max_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
        auth=CallerAuth.of(settings, SCOPES, GrpcClients(db).revoked_ids),
        tls=ServerTls.of(settings),
    )
    return Service(server)
