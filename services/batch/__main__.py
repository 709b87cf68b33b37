"""``python -m services.batch [serve]``: the gRPC server; ``python -m services.batch worker``: a
worker process (chunks, dead-lettered chunks, webhooks). Run as many workers as the queue needs."""

from __future__ import annotations

import asyncio
import signal
import sys

from libs.jsonlog import setup_logging
from libs.mongo import connect
from libs.telemetry import setup_telemetry
from services.batch.app import create_server, create_worker
from services.batch.settings import BatchSettings

USAGE = "usage: python -m services.batch [serve|worker]"


async def serve(settings: BatchSettings) -> None:
    client = connect(settings.mongodb_uri, app_name="batch")
    try:
        server = await create_server(client[settings.mongodb_database], settings, settings.batch_addr)
        await server.server.run(on_stop=[server.broker.close])
    finally:
        await client.close()


async def work(settings: BatchSettings) -> None:
    """Consumes until SIGTERM/SIGINT; unacked chunks go back to the queue for another worker."""
    client = connect(settings.mongodb_uri, app_name="batch-worker")
    try:
        worker = await create_worker(client[settings.mongodb_database], settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        try:
            await stop.wait()
        finally:
            await worker.stop()
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    role = args[0] if args else "serve"
    if role not in ("serve", "worker") or len(args) > 1:
        sys.exit(USAGE)
    settings = BatchSettings()
    name = "batch" if role == "serve" else "batch-worker"
    setup_logging(name, settings.log_level)
    setup_telemetry(name, settings.otel_exporter_otlp_endpoint)
    asyncio.run(serve(settings) if role == "serve" else work(settings))


if __name__ == "__main__":
    main()
