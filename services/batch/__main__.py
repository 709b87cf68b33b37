"""``python -m services.batch [serve]``: the gRPC server; ``python -m services.batch worker``: a
worker process (chunks, dead-lettered chunks, webhooks). Run as many workers as the queue needs.
Both are run by the kit's runner (libs/runner.py)."""

from __future__ import annotations

import sys

from libs.runner import run
from services.batch.app import create_server, create_worker
from services.batch.settings import BatchSettings

USAGE = "usage: python -m services.batch [serve|worker]"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    role = args[0] if args else "serve"
    if role not in ("serve", "worker") or len(args) > 1:
        sys.exit(USAGE)
    if role == "serve":
        run("batch", BatchSettings, lambda db, settings: create_server(db, settings, settings.batch_addr))
    else:
        run("batch-worker", BatchSettings, create_worker)


if __name__ == "__main__":
    main()
