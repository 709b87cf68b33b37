"""``leadmesh clients``: the credentials internal teams call the gRPC services with.

``create`` records a client in the store and prints its credential once (signed with the
stack's key, or ``LEADMESH_GRPC_SIGNING_KEY_FILE``); ``list`` shows them; ``revoke`` ends one,
within ``LEADMESH_GRPC_REVOCATION_INTERVAL`` seconds on every server.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from cli.mesh_credentials import MeshCredentials, signing_key
from cli.state import home_dir, store_target
from libs.caller_auth import SCOPES
from libs.errors import LeadmeshError
from libs.grpc_clients import GrpcClients
from libs.mongo import Document, connect, ping

__all__ = ["add_clients_parser", "run_clients"]


def add_clients_parser(commands: Any) -> None:
    clients = commands.add_parser(
        "clients", help="credentials for internal teams calling the gRPC services"
    ).add_subparsers(dest="action", required=True)
    create = clients.add_parser("create", help="issue a credential (shown once)")
    create.add_argument("--name", required=True, help="who calls: a team or a program")
    create.add_argument("--scopes", required=True, help=f"comma-separated, of: {', '.join(SCOPES)}")
    create.add_argument(
        "--account", default=None, help="bind it to one account: its requests must name this account_id"
    )
    create.add_argument("--json", action="store_true")
    listing = clients.add_parser("list", help="the credentials issued, revoked ones too")
    listing.add_argument("--json", action="store_true")
    revoke = clients.add_parser("revoke", help="revoke a credential (effective within seconds)")
    revoke.add_argument("client_id", metavar="CLIENT_ID")
    revoke.add_argument("--json", action="store_true")
    init = clients.add_parser(
        "init", help="make a signing key and every service's credential in DIR (compose, Kubernetes)"
    )
    init.add_argument("--dir", required=True, type=Path, metavar="DIR")


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - the CLI's output


async def _create(clients: GrpcClients, args: argparse.Namespace) -> dict[str, Any]:
    record, token = await clients.create(
        signing_key(home_dir()), args.name, args.scopes.split(","), SCOPES, args.account
    )
    if not args.json:
        say(f"client {record.client_id} ({record.name}), scopes: {' '.join(record.scopes)}")
        say(f"credential (shown once, store it now): {token}")
    return {
        "client_id": record.client_id,
        "token": token,
        "scopes": record.scopes,
        "account_id": record.account_id,
    }


async def _list(clients: GrpcClients, args: argparse.Namespace) -> dict[str, Any]:
    records = await clients.all()
    if not args.json:
        for record in records:
            state = "revoked" if record.revoke_time else "active"
            say(f"{record.client_id}  {state:8}  {record.name}  {' '.join(record.scopes)}")
    return {"clients": [record.as_json() for record in records]}


async def _revoke(clients: GrpcClients, args: argparse.Namespace) -> dict[str, Any]:
    record = await clients.revoke(args.client_id)
    if not args.json:
        say(f"revoked {record.client_id} ({record.name}); servers refuse it within seconds")
    return record.as_json()


COMMANDS = {"create": _create, "list": _list, "revoke": _revoke}


async def run_clients(args: argparse.Namespace) -> int:
    if args.action == "init":
        credentials = MeshCredentials(args.dir)
        credentials.ensure()
        say(
            f"signing key {credentials.signing_key_path} (keep it with the operator), verify key "
            f"{credentials.verify_key_path}, credentials under {args.dir / 'tokens'} and "
            f"{credentials.admin_token_path}"
        )
        return 0
    uri, database = store_target()
    client: AsyncMongoClient[Document] = connect(uri, app_name="cli", timeout_ms=3000)
    try:
        await ping(client[database])
        payload = await COMMANDS[args.action](GrpcClients(client[database]), args)
    except PyMongoError:
        return _failed(
            args,
            "STORE_UNAVAILABLE",
            f"cannot reach the store at {uri}: run `leadmesh up` or set LEADMESH_MONGODB_URI",
        )
    except LeadmeshError as error:
        return _failed(args, error.reason, error.message)
    except (OSError, ValueError) as error:
        return _failed(args, "SIGNING_KEY_UNAVAILABLE", str(error))
    finally:
        await client.close()
    if args.json:
        say(json.dumps(payload))
    return 0


def _failed(args: argparse.Namespace, reason: str, message: str) -> int:
    say(
        json.dumps({"error": {"code": reason, "message": message}})
        if args.json
        else f"error: {message} ({reason})"
    )
    return 1
