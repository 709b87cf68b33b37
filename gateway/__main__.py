"""``python -m gateway``: the REST gateway under uvicorn."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from libs.jsonlog import setup_logging
from libs.telemetry import setup_telemetry


def main() -> None:
    settings = GatewaySettings()
    setup_logging("gateway", settings.log_level)
    setup_telemetry("gateway", settings.otel_exporter_otlp_endpoint, settings.otel_traces_exporter != "none")
    host, _, port = settings.gateway_addr.rpartition(":")
    uvicorn.run(
        create_app(settings),
        host=host.strip("[]") or "127.0.0.1",
        port=int(port),
        # httptools' C parser: 0.3 ms of CPU less per request than h11 (benchmarks/lead_api.py).
        http="httptools",
        log_config=None,
        access_log=False,
        # The client address is the peer unless it is in LEADMESH_TRUSTED_PROXIES (gateway/limits.py):
        # uvicorn's own X-Forwarded-For handling (which trusts 127.0.0.1) would rewrite it first.
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace),
    )


if __name__ == "__main__":
    main()
