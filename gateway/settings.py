"""Gateway settings (``LEADMESH_`` environment)."""

from __future__ import annotations

from pydantic import Field

from libs.settings import CommonSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(CommonSettings):
    # Default deadline of a call to a service, seconds.
    rpc_timeout: float = Field(default=5.0, gt=0)
    # Services whose health /healthz reports (and requires for a 200).
    gateway_dependencies: list[str] = ["billing", "scoring", "intent", "enrichment"]
    # Deadline of one enrichment request through the pipeline, seconds.
    enrich_timeout: float = Field(default=8.0, gt=0)
    # Per-API-key rate limit of the enrich endpoints (token bucket per key, per gateway process).
    enrich_rate_per_second: float = Field(default=50.0, gt=0)
    enrich_rate_burst: int = Field(default=100, ge=1)
