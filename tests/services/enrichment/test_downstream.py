"""services.enrichment.downstream.Joined against a real billing server: merged charges go out as one
ChargeEach, and against a billing that predates ChargeEach (a rolling deploy) as one Charge each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from libs.errors import LeadmeshError
from libs.grpc_server import GrpcServer
from libs.mongo import Document
from services.billing.accounts import AccountDirectory
from services.billing.app import SERVICE_NAME
from services.billing.ledger import CreditLedger
from services.billing.repository import BillingRepository
from services.billing.servicer import BillingServicer
from services.enrichment.downstream import Downstream, Joined
from tests import grpc_callers


class BillingBeforeChargeEach(BillingServicer):
    """A billing service of the release before ChargeEach: the generated default answers
    UNIMPLEMENTED."""

    async def ChargeEach(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")


async def serve_billing(db: AsyncDatabase[Document], servicer_class: type[BillingServicer]) -> GrpcServer:
    repository = BillingRepository(db)
    await repository.ensure_indexes()
    ledger = CreditLedger(repository, 0)
    servicer = servicer_class(AccountDirectory(repository, ledger), ledger)
    return GrpcServer(
        name="billing",
        address="127.0.0.1:0",
        services={SERVICE_NAME: lambda s: billing_grpc.add_BillingServiceServicer_to_server(servicer, s)},
        grace=1,
        drained=[repository.postings.settled],
    )


@pytest_asyncio.fixture(params=[BillingServicer, BillingBeforeChargeEach], ids=["billing", "older-billing"])
async def billing(
    request: Any, db: AsyncDatabase[Document]
) -> AsyncIterator[billing_grpc.BillingServiceStub]:
    server = await serve_billing(db, request.param)
    port = await server.start()
    async with grpc_callers.channel(f"127.0.0.1:{port}") as channel:
        yield billing_grpc.BillingServiceStub(channel)
    await server.stop()


async def test_concurrent_charges_each_get_their_own_outcome_whichever_billing_answers(
    billing: billing_grpc.BillingServiceStub,
) -> None:
    created = await billing.CreateAccount(billing_pb.CreateAccountRequest(name="Acme", initial_credits=10))
    account_id = created.account.account_id
    mesh = Downstream(providers=None, verifier=None, intent=None, scoring=None, billing=billing)  # type: ignore[arg-type]
    joined = Joined(mesh, limit=1, max_items=100, stages={"billing"})

    async def charge(n: int, amount: int) -> billing_pb.ChargeResponse | LeadmeshError:
        request = billing_pb.ChargeRequest(account_id=account_id, idempotency_key=f"lead:{n}", amount=amount)
        return await joined.charge(request, timeout=5.0)

    outcomes = await asyncio.gather(*(charge(n, 3) for n in range(5)))

    charged = [o for o in outcomes if isinstance(o, billing_pb.ChargeResponse)]
    refused = [o for o in outcomes if isinstance(o, LeadmeshError)]
    assert len(charged) == 3 and sorted(o.balance for o in charged) == [1, 4, 7]
    assert [error.reason for error in refused] == ["INSUFFICIENT_CREDITS"] * 2
    balance = await billing.GetBalance(billing_pb.GetBalanceRequest(account_id=account_id))
    assert balance.balance == 1
