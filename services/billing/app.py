"""Composes billing from a database handle into a ``libs.service`` Service: the domain objects,
the gRPC server around them and the periodic recovery."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.caller_auth import CallerAuth, ServerTls, method_scopes
from libs.grpc_clients import GrpcClients
from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping
from libs.periodic import Every
from libs.service import Service
from services.billing.accounts import AccountDirectory
from services.billing.ledger import CreditLedger
from services.billing.repository import BillingRepository
from services.billing.servicer import BillingServicer
from services.billing.settings import BillingSettings

__all__ = ["SCOPES", "SERVICE_NAME", "create_server"]

SERVICE_NAME = "leadmesh.billing.v1.BillingService"
# The scope each RPC needs (README "Calling the gRPC services"); an RPC missing here is denied.
SCOPES = method_scopes(
    SERVICE_NAME,
    {
        "CreateAccount": "billing:admin",
        "GetAccount": "billing:read",
        "CreateApiKey": "billing:keys",
        "ListApiKeys": "billing:read",
        "RevokeApiKey": "billing:keys",
        "Authenticate": "billing:read",
        "GetBalance": "billing:read",
        "Charge": "billing:charge",
        "ChargeBatch": "billing:charge",
        "ChargeEach": "billing:charge",
        "AddCredits": "billing:admin",
        "ListLedgerEntries": "billing:read",
        "GetUsage": "billing:read",
        "Reserve": "billing:charge",
        "GetReservation": "billing:read",
        "SettleReservation": "billing:charge",
        "ReleaseReservation": "billing:charge",
    },
)


async def create_server(db: AsyncDatabase[Document], settings: BillingSettings, address: str) -> Service:
    """Ensures indexes, finishes what a crash left unfinished, and returns the (unstarted)
    service, which keeps finishing it every ``recovery_interval`` seconds."""
    repository = BillingRepository(db)
    await repository.ensure_indexes()
    ledger = CreditLedger(
        repository, settings.free_tier_monthly_credits, charge_limit=settings.billing_charge_coalesce_limit
    )
    await ledger.recover()
    servicer = BillingServicer(AccountDirectory(repository, ledger), ledger)
    server = GrpcServer(
        name="billing",
        address=address,
        services={
            SERVICE_NAME: lambda server: pb_grpc.add_BillingServiceServicer_to_server(servicer, server)
        },
        readiness=[lambda: ping(db)],
        grace=settings.shutdown_grace,
        max_concurrent_rpcs=settings.grpc_max_concurrent_rpcs,
        auth=CallerAuth.of(settings, SCOPES, GrpcClients(db).revoked_ids),
        tls=ServerTls.of(settings),
        drained=[repository.postings.settled],
    )
    return Service(server, parts=[Every(settings.recovery_interval, ledger.recover)])
