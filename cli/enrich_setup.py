"""The arguments of ``leadmesh enrich``, and which API key and gateway it uses (and where each came
from). Nothing here imports the SDK: building the CLI's parser must not need it.

The key: ``--api-key``, else ``LEADMESH_API_KEY``, else that of the stack ``leadmesh up`` runs from
this directory (``.leadmesh/``, or ``$LEADMESH_HOME``): the demo's account's key, which ``up
--demo`` keeps in ``.leadmesh/api_key``, or else an account made now through that stack's billing
service for this CLI (the free tier's credits), kept there for the next runs.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.mesh_credentials import cli_credential
from cli.state import StackState
from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.channels import open_channel

__all__ = ["KEY_FILE", "LEAD_INPUTS", "Target", "add_enrich_parser", "save_local_key", "target"]

LEAD_INPUTS = ("email", "first_name", "last_name", "name", "company", "company_domain", "linkedin_url")
KEY_FILE = "api_key"
DEFAULT_BASE_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Target:
    api_key: str | None
    key_source: str
    base_url: str


def save_local_key(home: Path, key: str) -> Path:
    """Keeps ``key`` as the local stack's key, readable by its owner only."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / KEY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(key + "\n")
    tmp.replace(path)
    return path


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


async def _new_local_account(billing_addr: str, home: Path) -> tuple[str, str]:
    async with open_channel(billing_addr, cli_credential(home), None) as channel:
        created = await pb_grpc.BillingServiceStub(channel).CreateAccount(
            pb.CreateAccountRequest(name="leadmesh CLI", create_api_key=True), timeout=10
        )
    return str(created.account.account_id), str(created.api_key_secret)


async def target(api_key: str | None, base_url: str | None, home: Path) -> Target:
    state = StackState.load(home)
    gateway = state.addresses.get("gateway") if state is not None else None
    url = (
        base_url
        or os.environ.get("LEADMESH_BASE_URL")
        or (f"http://{gateway}" if gateway else DEFAULT_BASE_URL)
    )
    if api_key:
        return Target(api_key, "--api-key", url)
    if os.environ.get("LEADMESH_API_KEY"):
        return Target(os.environ["LEADMESH_API_KEY"], "LEADMESH_API_KEY", url)
    if state is None:
        return Target(None, "", url)
    path = home / KEY_FILE
    if path.is_file() and (saved := path.read_text().strip()):
        return Target(saved, f"the local stack's, {_shown(path)}", url)
    billing = state.addresses.get("billing")
    if not billing:
        return Target(None, "", url)
    account, key = await _new_local_account(billing, home)
    save_local_key(home, key)
    return Target(key, f"the local stack's: account {account} made now, key kept in {_shown(path)}", url)


def add_enrich_parser(commands: Any) -> None:
    enrich = commands.add_parser(
        "enrich",
        help="enrich a CSV file, or one lead, through the API",
        description="Enrich a CSV file (FILE) or one lead (--email, --name with --company, ...).",
    )
    enrich.add_argument("file", nargs="?", type=Path, metavar="FILE", help="a CSV file of leads")
    enrich.add_argument("-o", "--output", type=Path, help="where the enriched file goes (FILE-enriched.csv)")
    enrich.add_argument("--fields", help="field groups, e.g. person,company,email,phone")
    enrich.add_argument("--skip-icp", action="store_true", help="no ICP scoring")
    enrich.add_argument("--mapping", help='JSON: input field -> column, e.g. {"email": "Work Email"}')
    enrich.add_argument("--webhook-url", help="called when the file's job ends")
    for name in LEAD_INPUTS:
        enrich.add_argument(f"--{name.replace('_', '-')}", help="one lead's input")
    enrich.add_argument("--max-contacts", type=int, help="a company alone: at most this many contacts")
    enrich.add_argument("--json", action="store_true", help="one lead: print the API's answer as JSON")
    enrich.add_argument("--api-key", help="else LEADMESH_API_KEY, else the key of `leadmesh up` here")
    enrich.add_argument("--base-url", help="the gateway, else LEADMESH_BASE_URL, else that of `leadmesh up`")
    enrich.add_argument("--poll-interval", type=float, default=1.0, help=argparse.SUPPRESS)
