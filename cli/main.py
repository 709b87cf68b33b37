"""``leadmesh``: the command-line entry point."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from cli.state import home_dir

__all__ = ["main"]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="leadmesh", description="Self-hostable lead enrichment.")
    commands = root.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the whole stack here until Ctrl-C")
    up.add_argument(
        "--demo",
        action="store_true",
        help="also run the demo world (loopback DNS, mail and web for the .example demo companies), "
        "seed the demo directory and show the API enriching leads",
    )

    accounts = commands.add_parser("accounts", help="manage accounts").add_subparsers(
        dest="action", required=True
    )
    create = accounts.add_parser("create", help="create an account and its first API key")
    create.add_argument("--name", required=True)
    create.add_argument("--credits", type=int, default=0, help="credits on top of the monthly free tier")
    create.add_argument("--json", action="store_true")

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(dest="action", required=True)
    key_create = keys.add_parser("create", help="create an API key (shown once)")
    key_create.add_argument("--account", required=True)
    key_create.add_argument("--test", action="store_true", help="an lm_test_ key instead of lm_live_")
    key_create.add_argument("--name", default="")
    key_create.add_argument("--json", action="store_true")
    key_revoke = keys.add_parser("revoke", help="revoke an API key by its prefix")
    key_revoke.add_argument("prefix", metavar="KEY_PREFIX")
    key_revoke.add_argument("--account", required=True, help="the account whose key it is")
    key_revoke.add_argument("--json", action="store_true")
    key_list = keys.add_parser("list", help="list an account's API keys")
    key_list.add_argument("--account", required=True)
    key_list.add_argument("--json", action="store_true")

    credits = commands.add_parser("credits", help="manage credits").add_subparsers(
        dest="action", required=True
    )
    add = credits.add_parser("add", help="add credits to an account")
    add.add_argument("--account", required=True)
    add.add_argument("--amount", type=int, required=True)
    add.add_argument("--description", default="Added by an administrator")
    add.add_argument("--idempotency-key", default="", help="retrying with the same key adds once")
    add.add_argument("--json", action="store_true")

    verify = commands.add_parser("verify", help="verify email addresses with the running verifier")
    verify.add_argument("addresses", nargs="+", metavar="ADDRESS")
    verify.add_argument("--json", action="store_true", help="one JSON object per line")
    verify.add_argument("--skip-smtp", action="store_true", help="syntax, DNS and lists only")
    verify.add_argument("--refresh", action="store_true", help="ignore cached verdicts")
    verify.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every result")

    worker = commands.add_parser("worker", help="run a queue worker in the foreground until SIGTERM")
    worker.add_argument("kind", choices=["batch"], help="batch: CSV job chunks, dead chunks, webhooks")

    from cli.clients import add_clients_parser
    from cli.data import add_data_parser
    from cli.enrich_setup import add_enrich_parser
    from cli.privacy import add_privacy_parser

    add_data_parser(commands)
    add_enrich_parser(commands)
    add_privacy_parser(commands)
    add_clients_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "up":
        from cli.stack import run_up

        return run_up(home_dir(), args.demo)
    if args.command == "worker":  # the same process as `python -m services.batch worker`
        from cli.state import local_webhook_secret
        from services.batch.__main__ import main as batch_main

        if "LEADMESH_WEBHOOK_SECRET" not in os.environ:  # the one of a local `leadmesh up`, if any
            if secret := local_webhook_secret(home_dir(), create=False):
                os.environ["LEADMESH_WEBHOOK_SECRET"] = secret

        batch_main(["worker"])
        return 0
    if args.command == "verify":
        from cli.verify import run_verify

        return asyncio.run(run_verify(args))
    if args.command == "enrich":
        from cli.enrich import run_enrich

        return run_enrich(args)
    if args.command == "clients":
        from cli.clients import run_clients

        return asyncio.run(run_clients(args))
    if args.command == "data":
        from cli.data import run_data

        return asyncio.run(run_data(args))
    if args.command == "privacy":
        from cli.privacy import run_privacy

        return asyncio.run(run_privacy(args))
    from cli.admin import run_admin

    return asyncio.run(run_admin(args))


if __name__ == "__main__":
    sys.exit(main())
