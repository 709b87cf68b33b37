"""Settings read once from the environment (prefix ``LEADMESH_``) and passed down.

Each process builds its settings in ``main()``; nothing reads ``os.environ`` at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_ADDRS", "CommonSettings", "MeshAddresses"]

# Default listen/target addresses of every process (ARCHITECTURE.md).
DEFAULT_ADDRS: dict[str, str] = {
    "enrichment": "127.0.0.1:50050",
    "providers": "127.0.0.1:50051",
    "verifier": "127.0.0.1:50052",
    "scoring": "127.0.0.1:50053",
    "intent": "127.0.0.1:50054",
    "billing": "127.0.0.1:50055",
    "batch": "127.0.0.1:50056",
    "gateway": "127.0.0.1:8080",
}


class MeshAddresses(BaseSettings):
    """Where each process listens or is reached: ``LEADMESH_<SERVICE>_ADDR``."""

    model_config = SettingsConfigDict(env_prefix="LEADMESH_", extra="ignore")

    enrichment_addr: str = DEFAULT_ADDRS["enrichment"]
    providers_addr: str = DEFAULT_ADDRS["providers"]
    verifier_addr: str = DEFAULT_ADDRS["verifier"]
    scoring_addr: str = DEFAULT_ADDRS["scoring"]
    intent_addr: str = DEFAULT_ADDRS["intent"]
    billing_addr: str = DEFAULT_ADDRS["billing"]
    batch_addr: str = DEFAULT_ADDRS["batch"]
    gateway_addr: str = DEFAULT_ADDRS["gateway"]

    def of(self, service: str) -> str:
        value: str = getattr(self, f"{service}_addr")
        return value


class CommonSettings(MeshAddresses):
    """What every leadmesh process needs."""

    mongodb_uri: str = "mongodb://127.0.0.1:27117"
    # Port of the embedded store `leadmesh up` starts when LEADMESH_MONGODB_URI is unset.
    embedded_store_port: int = Field(default=27117, ge=1, le=65535)
    mongodb_database: str = "leadmesh"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    log_level: str = "INFO"
    home: Path = Field(default=Path(".leadmesh"))
    # Seconds a stopping gRPC server lets in-flight calls finish.
    shutdown_grace: float = Field(default=10.0, ge=0)
    # Calls a gRPC server runs at once (health checks included); more are refused with
    # RESOURCE_EXHAUSTED. Each process reads its own, so each server may have its own.
    grpc_max_concurrent_rpcs: int = Field(default=1_000, ge=1)
    # Spans are exported over OTLP only when this standard variable is set.
    # The key of the hashes kept of erased people and of suppressed addresses (HMAC-SHA256); at
    # least 16 characters. `leadmesh up` makes one under the home; change it and they are lost.
    # Enrichment records and CSV jobs' rows and results are purged this many days after they
    # were made (then answered 410 Gone), checked every record_purge_interval seconds.
    record_retention_days: int = Field(default=90, ge=1)
    record_purge_interval: float = Field(default=3600.0, gt=0)
    privacy_hash_secret: SecretStr | None = Field(default=None, min_length=16)
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    # "none": with an OTLP endpoint, metrics only (spans are then not recorded, costing no CPU).
    otel_traces_exporter: str = Field(default="otlp", validation_alias="OTEL_TRACES_EXPORTER")

    # Caller credentials and TLS of the gRPC mesh (README "Calling the gRPC services"): the public
    # key(s) a server verifies credentials with (PEM text or a file), this process's own
    # credential, how often servers re-read the revoked credentials, and TLS files.
    grpc_verify_key: str | None = None
    grpc_verify_key_file: Path | None = None
    grpc_token: SecretStr | None = None
    grpc_token_file: Path | None = None
    grpc_revocation_interval: float = Field(default=2.0, gt=0)
    grpc_tls_cert_file: Path | None = None
    grpc_tls_key_file: Path | None = None
    grpc_tls_ca_file: Path | None = None
    # The private key `leadmesh clients create` signs credentials with (only the operator's CLI).
    grpc_signing_key_file: Path | None = None

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level
