"""``python -m services.intent``: build settings, connect, serve (with the weekly refresh worker
unless ``LEADMESH_INTENT_WORKER=false``)."""

from __future__ import annotations

import asyncio

from libs.jsonlog import setup_logging
from libs.mongo import connect
from libs.telemetry import setup_telemetry
from services.intent.app import create_server
from services.intent.settings import IntentSettings


async def serve(settings: IntentSettings) -> None:
    client = connect(settings.mongodb_uri, app_name="intent")
    try:
        server = await create_server(
            client[settings.mongodb_database],
            settings,
            settings.intent_addr,
            amqp_url=settings.amqp_url if settings.intent_worker else None,
        )
        await server.run()
    finally:
        await client.close()


def main() -> None:
    settings = IntentSettings()
    setup_logging("intent", settings.log_level)
    setup_telemetry("intent", settings.otel_exporter_otlp_endpoint)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
