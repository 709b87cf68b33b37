"""Gateway settings (``LEADMESH_`` environment)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

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
    # Per-API-key rate limit of the enrich endpoints (token bucket per key, per gateway process).
    enrich_rate_per_second: float = Field(default=50.0, gt=0)
    enrich_rate_burst: int = Field(default=100, ge=1)
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
