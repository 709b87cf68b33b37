"""``leadmesh up --demo``: the demo world before the services start, and the main job shown
through the public API once they answer.

Before: a small deterministic demo directory (:mod:`services.providers.demo`, every domain under
``.example``) is written to the store, and its world (:mod:`services.demo_world`: DNS, mail and
web servers on loopback) starts; the services get its settings (:meth:`DemoWorld.service_env`)
and ``LEADMESH_DEMO=true``. After: a demo account, then one lead by email, one by name and
company, one company alone (its best-fit contacts) and a CSV file of mixed quality, each with
its curl line and a compact answer; the files are kept under ``<home>/demo/``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import time
from pathlib import Path
from typing import Any

import httpx

from cli.answers import csv_lines, curl_csv, curl_lead, lead_answer_lines
from cli.data import replace_demo_directory
from cli.enrich_setup import save_local_key
from cli.mesh_credentials import MeshCredentials
from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.channels import CallerCredential, open_channel
from libs.mongo import connect
from services.demo_world import DemoWorld
from services.demo_world.showcase import CSV_COLUMNS, showcase
from services.providers.demo import demo_directory
from services.providers.repository import DirectoryRepository

__all__ = ["DEMO_COMPANIES", "DEMO_PEOPLE", "show_demo", "start_demo_world"]

DEMO_SEED = 4242
DEMO_COMPANIES = 200
DEMO_PEOPLE = 2000
# Credits of the demo account on top of the free tier: the demo spends about twenty.
DEMO_CREDITS = 500
LEAD_TIMEOUT = 30.0
CSV_TIMEOUT = 120.0


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - the CLI talks to its user


async def start_demo_world(mongodb_uri: str, database: str) -> DemoWorld:
    """Writes the demo directory to the store and starts its world."""
    started = time.monotonic()
    directory = await asyncio.to_thread(demo_directory, DEMO_SEED, DEMO_COMPANIES, DEMO_PEOPLE)
    client = connect(mongodb_uri, app_name="cli", timeout_ms=3000, operation_timeout_ms=60_000)
    try:
        repository = DirectoryRepository(client[database])
        await repository.ensure_indexes()
        await replace_demo_directory(repository, directory)
    finally:
        await client.close()
    world = await DemoWorld(directory).start()
    say(
        f"demo: {len(directory.companies)} companies and {len(directory.people)} people under .example "
        f"in the directory ({time.monotonic() - started:.1f}s); their DNS, mail and web servers run on "
        f"{world.host} (loopback only), and every answer is labelled demo"
    )
    return world


async def _account(billing_addr: str, home: Path) -> str:
    admin = CallerCredential.from_file(MeshCredentials.of(home).admin_token_path)
    async with open_channel(billing_addr, admin, None) as channel:
        created = await pb_grpc.BillingServiceStub(channel).CreateAccount(
            pb.CreateAccountRequest(name="Demo account", initial_credits=DEMO_CREDITS, create_api_key=True),
            timeout=10,
        )
    say(f"\ndemo: account {created.account.account_id}, API key {created.api_key_secret}")
    return str(created.api_key_secret)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        return answer
    return {"error": {"code": response.status_code, "message": response.text[:300]}}


def _shown_path(path: Path) -> str:
    """The path as the user would type it from here."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


async def show_demo(gateway_url: str, billing_addr: str, world: DemoWorld, home: Path) -> None:
    key = await _account(billing_addr, home)
    save_local_key(home, key)  # `leadmesh enrich` run from here uses the demo's account
    cast = showcase(world)
    auth = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=gateway_url, headers=auth, timeout=LEAD_TIMEOUT) as http:
        for body in (cast.by_email, cast.by_name, cast.company_only):
            say(f"\n{curl_lead(gateway_url, key, body)}")
            response = await http.post("/v1/enrich/lead", json=body)
            for line in lead_answer_lines(response.status_code, _json(response)):
                say(line)
        folder = home / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        upload, result = folder / "leads.csv", folder / "leads-enriched.csv"
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(cast.csv_rows)
        upload.write_text(text.getvalue(), encoding="utf-8")
        say(f"\n{curl_csv(gateway_url, key, _shown_path(upload), _shown_path(result))}")
        response = await http.post(
            "/v1/enrich/csv",
            files={"file": (upload.name, upload.read_bytes(), "text/csv")},
            timeout=CSV_TIMEOUT,
        )
        if response.status_code != 200:
            say(f"HTTP {response.status_code} {response.text[:500]}")
            return
        result.write_bytes(response.content)
        say(f"HTTP 200, the enriched file ({_shown_path(result)}):")
        for line in csv_lines(response.headers, response.text, cast.csv_rows):
            say(line)
        say(f"\n(the demo's files are in {_shown_path(folder)}{os.sep})")
