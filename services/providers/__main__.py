"""``python -m services.providers``: the providers service, run by the kit's runner
(libs/runner.py), its vendors from ``LEADMESH_PROVIDERS_CONFIG`` or ``LEADMESH_PROVIDERS_JSON``."""

from __future__ import annotations

import gc
import os

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from libs.runner import run
from libs.service import Service
from services.providers.app import create_server
from services.providers.config import load_config
from services.providers.settings import ProvidersSettings


async def build(db: AsyncDatabase[Document], settings: ProvidersSettings) -> Service:
    return await create_server(db, settings, settings.providers_addr, load_config(settings, os.environ))


def collect_less() -> None:
    """A 10,000-lead batch allocates millions of short-lived objects; with the default thresholds
    the collector runs hundreds of times per batch, several times over the whole heap (a tenth of
    the batch's time). What start-up made lives for good: out of the collector's way."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def main() -> None:
    run("providers", ProvidersSettings, build, started=collect_less)


if __name__ == "__main__":
    main()
