"""``python -m services.scoring``: the scoring service, run by the kit's runner (libs/runner.py)."""

from __future__ import annotations

from libs.runner import run
from services.scoring.app import create_server
from services.scoring.settings import ScoringSettings


def main() -> None:
    run("scoring", ScoringSettings, lambda db, settings: create_server(db, settings, settings.scoring_addr))


if __name__ == "__main__":
    main()
