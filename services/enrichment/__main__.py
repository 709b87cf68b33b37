"""``python -m services.enrichment``: the enrichment service, run by the kit's runner (libs/runner.py)."""

from __future__ import annotations

from libs.runner import run
from services.enrichment.app import create_server
from services.enrichment.settings import EnrichmentSettings


def main() -> None:
    run(
        "enrichment",
        EnrichmentSettings,
        lambda db, settings: create_server(db, settings, settings.enrichment_addr),
    )


if __name__ == "__main__":
    main()
