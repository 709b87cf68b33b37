"""The providers service's settings (``LEADMESH_`` environment)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator

from libs.settings import CommonSettings

__all__ = ["ProvidersSettings"]


class ProvidersSettings(CommonSettings):
    # The external providers and the waterfall order: a JSON or TOML file
    # (LEADMESH_PROVIDERS_CONFIG) or the same document inline (LEADMESH_PROVIDERS_JSON).
    providers_config: Path | None = None
    providers_json: str | None = None
    # A match, and a field, count only at or above this confidence.
    providers_confidence_threshold: float = Field(default=0.8, gt=0, le=1)
    # Each provider that failed for a lead multiplies its confidence by this.
    providers_failure_penalty: float = Field(default=0.9, gt=0, le=1)
    # Seconds the directory may take for one batch.
    providers_directory_timeout: float = Field(default=20.0, gt=0)
    providers_max_batch: int = Field(default=20000, ge=1)
    # Seconds between deletions of expired cached provider answers.
    providers_cache_purge_interval: float = Field(default=3600.0, gt=0)
    # Key sets up to this size are looked up with one equality query per key instead of one $in
    # (the embedded store scans a collection for an $in; see repository.POINT_QUERIES).
    providers_directory_point_queries: int = Field(default=32, ge=0)
    # Seconds a company record read by domain is kept in the process (0: not kept). An import by
    # another process (`leadmesh data import`) changes a known company for the lookups after this.
    providers_company_cache_ttl: float = Field(default=30.0, ge=0)
    # Outbound provider URLs that resolve to private or loopback addresses are refused unless
    # this is set (tests with loopback vendors), or unless they are inside one of the allowed
    # networks (CIDRs, e.g. ["10.20.0.0/16"]).
    providers_allow_private_urls: bool = False
    providers_allowed_networks: list[str] = Field(default_factory=list)
    # The one pooled HTTP client's connection limit, shared by every HTTP provider.
    providers_http_max_connections: int = Field(default=100, ge=1)
    # Seconds between re-reads of the suppressions (another replica's are seen after this).
    providers_suppression_refresh: float = Field(default=5.0, gt=0)

    @field_validator("providers_allowed_networks")
    @classmethod
    def _valid_networks(cls, networks: list[str]) -> list[str]:
        for network in filter(str.strip, networks):
            ipaddress.ip_network(network.strip(), strict=False)  # ValueError names the bad one
        return networks
