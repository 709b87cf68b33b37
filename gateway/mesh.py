"""The gateway's clients of the mesh: one channel per service, stubs over them."""

from __future__ import annotations

from grpc_health.v1 import health_pb2_grpc

from leadmesh.batch.v1 import batch_service_pb2_grpc as batch_grpc
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.enrichment.v1 import enrichment_service_pb2_grpc as enrichment_grpc
from leadmesh.intent.v1 import intent_service_pb2_grpc as intent_grpc
from leadmesh.providers.v1 import providers_service_pb2_grpc as providers_grpc
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as scoring_grpc
from libs.channels import CallerCredential, ChannelPool
from libs.settings import CommonSettings

__all__ = ["Mesh"]


class Mesh:
    def __init__(self, settings: CommonSettings, default_timeout: float):
        self.addresses = addresses = settings
        self.channels = ChannelPool(default_timeout, CallerCredential.of(settings))
        self.billing = billing_grpc.BillingServiceStub(self.channels.get(addresses.billing_addr))
        self.scoring = scoring_grpc.ScoringServiceStub(self.channels.get(addresses.scoring_addr))
        self.intent = intent_grpc.IntentServiceStub(self.channels.get(addresses.intent_addr))
        self.batch = batch_grpc.BatchServiceStub(self.channels.get(addresses.batch_addr))
        self.providers = providers_grpc.ProvidersServiceStub(self.channels.get(addresses.providers_addr))
        self.enrichment = enrichment_grpc.EnrichmentServiceStub(self.channels.get(addresses.enrichment_addr))

    def health(self, service: str) -> health_pb2_grpc.HealthStub:
        return health_pb2_grpc.HealthStub(self.channels.get(self.addresses.of(service)))

    async def close(self) -> None:
        await self.channels.close()
