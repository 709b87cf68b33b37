"""Batch's settings (``LEADMESH_`` environment), shared by its gRPC server and its workers."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from libs.safe_http import parse_ports
from libs.settings import CommonSettings

__all__ = ["BatchSettings"]


class BatchSettings(CommonSettings):
    # Data rows of one file; more is refused before any work or charge.
    batch_max_rows: int = Field(default=100_000, ge=1)
    # Bytes of one upload.
    batch_max_upload_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    # Jobs one account may have queued or running at once; one more upload is refused (429).
    batch_max_active_jobs: int = Field(default=10, ge=1)
    # Rows of one chunk event (one EnrichBatch call).
    batch_chunk_rows: int = Field(default=500, ge=1, le=1_000)
    # Where uploads are spooled while they are parsed (deleted afterwards).
    batch_spool_dir: Path | None = None
    # Deliveries of a chunk before it goes to the dead-letter queue and its rows are failed.
    batch_max_attempts: int = Field(default=4, ge=1)
    # Workers queue the chunks of jobs stored but not queued (the broker failed their upload) this
    # many seconds after the job was created, looking every batch_sweep_interval seconds.
    batch_sweep_age: float = Field(default=30.0, ge=0)
    batch_sweep_interval: float = Field(default=30.0, gt=0)
    # Unacked chunks per worker process.
    batch_worker_prefetch: int = Field(default=2, ge=1)
    # Seconds one EnrichBatch call of a chunk may take.
    batch_enrich_timeout: float = Field(default=120.0, gt=0)
    batch_billing_timeout: float = Field(default=10.0, gt=0)
    # At upload, the intent of the job's distinct company domains is asked for in the background
    # (GetSignalsBatch calls of 500 domains, this many at once, each with this timeout), so that
    # the fetches of their websites and job boards start before the chunks need them.
    batch_intent_prefetch: bool = True
    batch_intent_prefetch_concurrency: int = Field(default=2, ge=1)
    batch_intent_prefetch_timeout: float = Field(default=5.0, gt=0)
    # A job's rows whose mail server greylisted the probe are verified once more when its last
    # chunk is done, if their retry time is at most this many seconds away (0: never).
    batch_greylist_recheck_wait: float = Field(default=60.0, ge=0)
    batch_verifier_timeout: float = Field(default=60.0, gt=0)
    # Master secret the per-account webhook signing secrets derive from: no default, the entry
    # point refuses to start without a good one (services/batch/signing.py: master_secret_problem).
    webhook_secret: SecretStr | None = None
    # Seconds a replaced account secret keeps signing after POST /v1/webhooks/secret/rotate.
    webhook_secret_grace: float = Field(default=86_400.0, ge=0)
    # Networks webhooks may reach besides public addresses (tests: loopback).
    batch_webhook_allowed_networks: list[str] = Field(default_factory=list)
    # Ports webhooks may reach: "443" or "8000-8999" entries.
    batch_webhook_allowed_ports: list[str] = Field(default_factory=lambda: ["80", "443"])
    batch_webhook_max_attempts: int = Field(default=8, ge=1)
    batch_webhook_base_delay: float = Field(default=5.0, gt=0)
    batch_webhook_timeout: float = Field(default=10.0, gt=0)
    # The most columns and bytes one row of an upload may have (a wider or longer row is refused,
    # naming its line): every result row is padded to the widest row.
    batch_max_columns: int = Field(default=500, ge=1)
    batch_max_row_bytes: int = Field(default=65_536, ge=1_024)

    @field_validator("batch_webhook_allowed_ports")
    @classmethod
    def _ports(cls, value: list[str]) -> list[str]:
        parse_ports(value)
        return value
