"""The one way a leadmesh service process runs: ``python -m services.<name>`` calls :func:`run`.

Settings are read once from the environment, logs are JSON lines, tracing and metrics are set up
(exported over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set), the store client is opened, the
service's builder makes its :class:`~libs.service.Service` and it runs until SIGTERM or SIGINT:
NOT_SERVING -> drain -> stop, its parts stopped and what it opened closed, then the store client,
and last the telemetry flushed (the final metrics and spans are exported before the exit).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymongo.asynchronous.database import AsyncDatabase

from libs.jsonlog import setup_logging
from libs.mongo import Document, connect
from libs.service import Service
from libs.settings import CommonSettings
from libs.telemetry import setup_telemetry, shutdown_telemetry

__all__ = ["Builder", "run", "serve_until_signalled"]

log = logging.getLogger("leadmesh.server")

S = TypeVar("S", bound=CommonSettings)
# Makes the service from the process's database and settings (an app.py's create_server).
Builder = Callable[[AsyncDatabase[Document], S], Awaitable[Service]]


def run(
    name: str, settings_type: type[S], build: Builder[S], *, started: Callable[[], None] = lambda: None
) -> None:
    """Runs the service ``build`` makes as the process ``name`` (``leadmesh-<name>`` in telemetry
    and in the store's connection list) until SIGTERM or SIGINT; ``started`` is called once it
    serves. Exits with 1 when it cannot start."""
    settings = settings_type()
    setup_logging(name, settings.log_level)
    setup_telemetry(name, settings.otel_exporter_otlp_endpoint, settings.otel_traces_exporter != "none")
    try:
        asyncio.run(_run(name, settings, build, started))
    except Exception:
        log.critical("the service could not start", exc_info=True)
        raise SystemExit(1) from None
    finally:
        shutdown_telemetry()


async def _run(name: str, settings: S, build: Builder[S], started: Callable[[], None]) -> None:
    client = connect(settings.mongodb_uri, app_name=name)
    try:
        service = await build(client[settings.mongodb_database], settings)
        await serve_until_signalled(service, started)
    finally:
        await client.close()


async def serve_until_signalled(service: Service, started: Callable[[], None] = lambda: None) -> None:
    """Starts ``service``, serves until SIGTERM or SIGINT, then stops it (a signal that comes while
    it starts stops it as soon as it has started)."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop_requested.set)
    try:
        await service.start()
        started()
        await stop_requested.wait()
        log.info("stop requested")
    finally:
        await service.stop()
        for sig in signals:
            loop.remove_signal_handler(sig)
