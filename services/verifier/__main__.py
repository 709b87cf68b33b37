"""``python -m services.verifier``: build settings, connect, serve."""

from __future__ import annotations

import asyncio

from libs.jsonlog import setup_logging
from libs.mongo import connect
from libs.telemetry import setup_telemetry
from services.verifier.app import create_server
from services.verifier.settings import VerifierSettings


async def serve(settings: VerifierSettings) -> None:
    client = connect(settings.mongodb_uri, app_name="verifier")
    server, verifier = await create_server(
        client[settings.mongodb_database], settings, settings.verifier_addr
    )
    await server.run(on_stop=[verifier.close, client.close])


def main() -> None:
    settings = VerifierSettings()
    setup_logging("verifier", settings.log_level)
    setup_telemetry("verifier", settings.otel_exporter_otlp_endpoint)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
