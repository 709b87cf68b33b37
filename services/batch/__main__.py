"""``python -m services.batch [serve]``: the gRPC server; ``python -m services.batch worker``: a
worker process (chunks, dead-lettered chunks, webhooks). Run as many workers as the queue needs.
Both are run by the kit's runner (libs/runner.py), and both refuse to start without a good webhook
master secret (``LEADMESH_WEBHOOK_SECRET``: set, not the published development value, at least 32
characters), saying how to set one."""

from __future__ import annotations

import logging
import sys

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from libs.runner import run
from libs.service import Service
from services.batch.app import create_server, create_worker
from services.batch.settings import BatchSettings
from services.batch.signing import master_secret_problem

USAGE = "usage: python -m services.batch [serve|worker]"
log = logging.getLogger("leadmesh.server")


def _require_master_secret(settings: BatchSettings) -> None:
    problem = master_secret_problem(
        settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    )
    if problem:
        log.critical("the service cannot start: %s", problem)
        raise SystemExit(f"batch cannot start: {problem}")


async def _serve(db: AsyncDatabase[Document], settings: BatchSettings) -> Service:
    _require_master_secret(settings)
    return await create_server(db, settings, settings.batch_addr)


async def _work(db: AsyncDatabase[Document], settings: BatchSettings) -> Service:
    _require_master_secret(settings)
    return await create_worker(db, settings)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    role = args[0] if args else "serve"
    if role not in ("serve", "worker") or len(args) > 1:
        sys.exit(USAGE)
    if role == "serve":
        run("batch", BatchSettings, _serve)
    else:
        run("batch-worker", BatchSettings, _work)


if __name__ == "__main__":
    main()
