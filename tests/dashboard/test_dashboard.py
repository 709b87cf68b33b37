"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against the real stack
as `make up` runs it (`leadmesh up --demo`): sign in, enrich one lead, a CSV file uploaded and its
result downloaded, the ICP edited with its versions, a key created and revoked, markup in a file
name shown as text, and the key never in localStorage. Each scenario is a node script
(dashboard/e2e/dashboard.mjs) that saves a screenshot of its page under tests/artifacts/dashboard/
(printed on failure)."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from libs.embedded_store import free_port
from tests.cli.test_up import _up

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "dashboard"
ARTIFACTS = REPO / "tests" / "artifacts" / "dashboard"
CHROMIUM = Path(os.environ.get("LEADMESH_E2E_CHROMIUM", "/usr/bin/chromium"))


def _build_dashboard() -> Path:
    """Builds dashboard/ from its lock file (what `make dashboard` does) into a fresh directory."""
    npm = shutil.which("npm")
    if npm is None or not CHROMIUM.exists():
        pytest.fail("the browser tests need node/npm and Chromium: run scripts/install-dashboard-deps.sh")
    if not (DASHBOARD / "node_modules" / ".bin" / "vite").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=DASHBOARD, check=True, timeout=600)
    subprocess.run([npm, "run", "build"], cwd=DASHBOARD, check=True, timeout=300, capture_output=True)
    return DASHBOARD / "dist"


@pytest.fixture(scope="module")
def dashboard_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    dist = _build_dashboard()
    home = tmp_path_factory.mktemp("dashboard")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADMESH_")}
    env.update(
        {
            "LEADMESH_HOME": str(home / "home"),
            "LEADMESH_EMBEDDED_STORE_PORT": str(free_port()),
            "LEADMESH_SHUTDOWN_GRACE": "2",
            "LEADMESH_DASHBOARD_DIR": str(dist),
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "proto")]),
        }
    )
    for name in ("enrichment", "providers", "verifier", "scoring", "intent", "billing", "batch", "gateway"):
        env[f"LEADMESH_{name.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
    for _, lines in _up(env, home, "--demo"):
        demo_email = next(
            m.group(1) for line in lines if (m := re.search(r'"email": ?"([^"]+@[^"]+)"', line))
        )
        key = asyncio.run(_new_key(env["LEADMESH_BILLING_ADDR"]))
        leads = home / "leads.csv"
        _demo_csv(Path(env["LEADMESH_HOME"]) / "demo", leads)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield env | {
            "LEADMESH_E2E_BASE_URL": f"http://{env['LEADMESH_GATEWAY_ADDR']}",
            "LEADMESH_E2E_KEY": key,
            "LEADMESH_E2E_EMAIL": demo_email,
            "LEADMESH_E2E_CSV": str(leads),
            "LEADMESH_E2E_ARTIFACTS": str(ARTIFACTS),
            "LEADMESH_E2E_CHROMIUM": str(CHROMIUM),
        }


async def _new_key(billing_addr: str) -> str:
    async with grpc.aio.insecure_channel(billing_addr) as channel:
        created = await billing_grpc.BillingServiceStub(channel).CreateAccount(
            billing_pb.CreateAccountRequest(name="Dashboard tests", initial_credits=1000, create_api_key=True)
        )
    return created.api_key_secret


def _demo_csv(demo: Path, target: Path) -> None:
    """The input columns of the demo's CSV file (what `up --demo` uploaded), as a file of our own."""
    with (demo / "leads-enriched.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["email", "first_name", "last_name", "company"])
        for row in rows:
            writer.writerow(
                [
                    row.get("email", ""),
                    row.get("first_name", ""),
                    row.get("last_name", ""),
                    row.get("company", ""),
                ]
            )


def _run(scenario: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["node", "e2e/dashboard.mjs", scenario],
        cwd=DASHBOARD,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{scenario} failed (screenshots in {ARTIFACTS}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}",
            pytrace=False,
        )


@pytest.mark.parametrize("scenario", ["signin", "enrich", "csv", "icp", "keys"])
def test_dashboard_in_a_browser(scenario: str, dashboard_env: dict[str, str]) -> None:
    _run(scenario, dashboard_env)
