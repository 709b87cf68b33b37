"""What the gateway tests talk to."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.intent.v1 import intent_service_pb2_grpc as intent_grpc
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as scoring_grpc
from libs.service import Service


@dataclass
class Stack:
    """The gateway on a loopback port in front of real billing, scoring and intent services."""

    http: httpx.AsyncClient
    billing: billing_grpc.BillingServiceStub
    billing_server: Service
    scoring: scoring_grpc.ScoringServiceStub
    scoring_server: Service
    intent: intent_grpc.IntentServiceStub
    intent_server: Service

    async def new_account(self, credits: int = 0) -> tuple[str, str]:
        created = await self.billing.CreateAccount(
            billing_pb.CreateAccountRequest(name="Acme", initial_credits=credits, create_api_key=True)
        )
        return created.account.account_id, created.api_key_secret
