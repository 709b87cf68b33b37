"""``python -m services.billing``: build settings, connect, serve."""

from __future__ import annotations

import asyncio

from libs.jsonlog import setup_logging
from libs.mongo import connect
from libs.telemetry import setup_telemetry
from services.billing.app import create_server
from services.billing.settings import BillingSettings


async def serve(settings: BillingSettings) -> None:
    client = connect(settings.mongodb_uri, app_name="billing")
    server = await create_server(client[settings.mongodb_database], settings, settings.billing_addr)
    await server.run(on_stop=[client.close])


def main() -> None:
    settings = BillingSettings()
    setup_logging("billing", settings.log_level)
    setup_telemetry("billing", settings.otel_exporter_otlp_endpoint)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
