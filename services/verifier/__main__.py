"""``python -m services.verifier``: the verifier service, run by the kit's runner (libs/runner.py)."""

from __future__ import annotations

from libs.runner import run
from services.verifier.app import create_server
from services.verifier.settings import VerifierSettings


def main() -> None:
    run(
        "verifier", VerifierSettings, lambda db, settings: create_server(db, settings, settings.verifier_addr)
    )


if __name__ == "__main__":
    main()
