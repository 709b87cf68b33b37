"""``python -m services.scoring``: build settings, connect, serve."""

from __future__ import annotations

import asyncio

from libs.jsonlog import setup_logging
from libs.mongo import connect
from libs.telemetry import setup_telemetry
from services.scoring.app import create_server
from services.scoring.settings import ScoringSettings


async def serve(settings: ScoringSettings) -> None:
    client = connect(settings.mongodb_uri, app_name="scoring")
    server = await create_server(client[settings.mongodb_database], settings, settings.scoring_addr)
    await server.run(on_stop=[client.close])


def main() -> None:
    settings = ScoringSettings()
    setup_logging("scoring", settings.log_level)
    setup_telemetry("scoring", settings.otel_exporter_otlp_endpoint)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
