"""``python -m services.providers``: build settings, connect, serve."""

from __future__ import annotations

import asyncio
import gc
import os

from libs.jsonlog import setup_logging
from libs.mongo import connect
from libs.telemetry import setup_tracing
from services.providers.app import create_server
from services.providers.config import load_config
from services.providers.settings import ProvidersSettings


async def serve(settings: ProvidersSettings) -> None:
    config = load_config(settings, os.environ)
    client = connect(settings.mongodb_uri, app_name="providers")
    server, resources = await create_server(
        client[settings.mongodb_database], settings, settings.providers_addr, config
    )
    # A 10,000-lead batch allocates millions of short-lived objects; with the default thresholds
    # the collector runs hundreds of times per batch, several times over the whole heap (a
    # tenth of the batch's time). What start-up made lives for good: out of the collector's way.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    await server.run(on_stop=[resources.close, client.close])


def main() -> None:
    settings = ProvidersSettings()
    setup_logging("providers", settings.log_level)
    setup_tracing("providers", settings.otel_exporter_otlp_endpoint)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
