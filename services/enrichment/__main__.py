"""``python -m services.enrichment``: build settings, connect, serve."""

from __future__ import annotations

import asyncio

from libs.jsonlog import setup_logging
from libs.mongo import connect
from libs.telemetry import setup_telemetry
from services.enrichment.app import create_server
from services.enrichment.settings import EnrichmentSettings


async def serve(settings: EnrichmentSettings) -> None:
    client = connect(settings.mongodb_uri, app_name="enrichment")
    server, channels = await create_server(
        client[settings.mongodb_database], settings, settings.enrichment_addr
    )
    await server.run(on_stop=[channels.close, client.close])


def main() -> None:
    settings = EnrichmentSettings()
    setup_logging("enrichment", settings.log_level)
    setup_telemetry("enrichment", settings.otel_exporter_otlp_endpoint)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
