"""Gateway settings (``LEADMESH_`` environment)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator

from libs.settings import CommonSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(CommonSettings):
    # Demo mode (LEADMESH_DEMO; `leadmesh up --demo` sets it): every enrichment answer's meta and
    # GET /healthz say "demo": true, as the data comes from the built-in demo world.
    demo: bool = False
    # Default deadline of a call to a service, seconds.
    rpc_timeout: float = Field(default=5.0, gt=0)
    # Services whose health /healthz reports (and requires for a 200).
    gateway_dependencies: list[str] = ["billing", "scoring", "intent", "enrichment"]
    # Deadline of one enrichment request through the pipeline, seconds.
    enrich_timeout: float = Field(default=8.0, gt=0)
    # Per-API-key rate limits by route class (token bucket per key and class, per gateway process,
    # see gateway/limits.py): POST /v1/enrich/lead and csv_row; CSV uploads; every other GET; every
    # other write.
    enrich_rate_per_second: float = Field(default=50.0, gt=0)
    enrich_rate_burst: int = Field(default=100, ge=1)
    upload_rate_per_second: float = Field(default=0.5, gt=0)
    upload_rate_burst: int = Field(default=10, ge=1)
    read_rate_per_second: float = Field(default=20.0, gt=0)
    read_rate_burst: int = Field(default=50, ge=1)
    write_rate_per_second: float = Field(default=5.0, gt=0)
    write_rate_burst: int = Field(default=20, ge=1)
    # Uploads one account may have under way (being received and stored) at once, per process.
    upload_max_concurrent: int = Field(default=2, ge=1)
    # Failed authentications per client address (token bucket): once spent, that address is
    # answered 429 without its key being looked up.
    auth_failure_rate_per_second: float = Field(default=0.1, gt=0)
    auth_failure_burst: int = Field(default=20, ge=1)
    # Proxies (CIDRs) whose X-Forwarded-For names the client; any other peer is the client itself.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Largest request body, bytes: JSON endpoints, and the CSV upload (paths under /v1/enrich/csv).
    gateway_max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    gateway_max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    # CSV uploads: below this many data rows the answer is the enriched file itself, waited for at
    # most csv_sync_timeout seconds (then 202 with the job); larger files are always 202.
    csv_sync_max_rows: int = Field(default=10_000, ge=0)
    csv_sync_timeout: float = Field(default=300.0, gt=0)
    # Deadline of receiving and storing one upload, and of streaming one result file.
    csv_upload_timeout: float = Field(default=600.0, gt=0)
    csv_result_timeout: float = Field(default=600.0, gt=0)
    # The built dashboard served at /app/; unset: the checkout's dashboard/dist (`make dashboard`).
    dashboard_dir: Path | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
        return value
