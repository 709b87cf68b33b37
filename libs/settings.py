"""Settings read once from the environment (prefix ``LEADMESH_``) and passed down.

Each process builds its settings in ``main()``; nothing reads ``os.environ`` at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
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
    # Spans are exported over OTLP only when this standard variable is set.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    # "none": with an OTLP endpoint, metrics only (spans are then not recorded, costing no CPU).
    otel_traces_exporter: str = Field(default="otlp", validation_alias="OTEL_TRACES_EXPORTER")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level
