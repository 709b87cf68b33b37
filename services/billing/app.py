"""Composes billing from a database handle: the domain objects and the gRPC server around them."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.grpc_server import GrpcServer
from libs.mongo import Document, ping
from services.billing.accounts import AccountDirectory
from services.billing.ledger import CreditLedger
from services.billing.repository import BillingRepository
from services.billing.servicer import BillingServicer
from services.billing.settings import BillingSettings

__all__ = ["SERVICE_NAME", "create_server"]

SERVICE_NAME = "leadmesh.billing.v1.BillingService"


async def create_server(db: AsyncDatabase[Document], settings: BillingSettings, address: str) -> GrpcServer:
    """Ensures indexes, finishes what a crash left unfinished, and returns the (unstarted) server,
    which keeps finishing it every ``recovery_interval`` seconds."""
    repository = BillingRepository(db)
    await repository.ensure_indexes()
    ledger = CreditLedger(
        repository, settings.free_tier_monthly_credits, charge_limit=settings.billing_charge_coalesce_limit
    )
    await ledger.recover()
    servicer = BillingServicer(AccountDirectory(repository, ledger), ledger)
    return GrpcServer(
        name="billing",
        address=address,
        services={
            SERVICE_NAME: lambda server: pb_grpc.add_BillingServiceServicer_to_server(servicer, server)
        },
        readiness=[lambda: ping(db)],
        grace=settings.shutdown_grace,
        maintenance=[(settings.recovery_interval, ledger.recover)],
        drained=[repository.postings.settled],
    )
