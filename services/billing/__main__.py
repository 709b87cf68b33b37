"""``python -m services.billing``: the billing service, run by the kit's runner (libs/runner.py)."""

from __future__ import annotations

from libs.runner import run
from services.billing.app import create_server
from services.billing.settings import BillingSettings


def main() -> None:
    run("billing", BillingSettings, lambda db, settings: create_server(db, settings, settings.billing_addr))


if __name__ == "__main__":
    main()
