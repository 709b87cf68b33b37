"""The dashboard in a real browser (Debian's Chromium driven by Playwright) against the real stack
as `make up` runs it (`leadmesh up --demo`): sign in (and by keyboard), enrich one lead, a 402
saying how many credits are missing, a CSV file uploaded and its result downloaded, the ICP
edited with its versions, a key created and revoked, markup in a file name shown as text, every
control named, and the key never in localStorage. Each scenario is a node script
(dashboard/e2e/dashboard.mjs) that saves a screenshot of its page under tests/artifacts/dashboard/
(printed on failure)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.mesh_credentials import MeshCredentials
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from libs.channels import CallerCredential, open_channel
from libs.embedded_store import free_port

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "dashboard"
ARTIFACTS = REPO / "tests" / "artifacts" / "dashboard"
# The demo `up --demo` runs first (enriching a CSV file) is slow on a loaded machine.
UP_TIMEOUT = 300
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
    process, lines = _up(env, home)
    try:
        demo_email = next(
            m.group(1) for line in lines if (m := re.search(r'"email": ?"([^"]+@[^"]+)"', line))
        )
        stack_home = Path(env["LEADMESH_HOME"])
        key = asyncio.run(_new_key(env["LEADMESH_BILLING_ADDR"], stack_home))
        poor_key = asyncio.run(_new_key(env["LEADMESH_BILLING_ADDR"], stack_home, spend=25))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield env | {
            "LEADMESH_E2E_BASE_URL": f"http://{env['LEADMESH_GATEWAY_ADDR']}",
            "LEADMESH_E2E_KEY": key,
            "LEADMESH_E2E_POOR_KEY": poor_key,  # 5 credits left
            "LEADMESH_E2E_EMAIL": demo_email,
            # The demo's own CSV file (what `up --demo` uploads): email, first_name, last_name, company.
            "LEADMESH_E2E_CSV": str(Path(env["LEADMESH_HOME"]) / "demo" / "leads.csv"),
            "LEADMESH_E2E_ARTIFACTS": str(ARTIFACTS),
            "LEADMESH_E2E_CHROMIUM": str(CHROMIUM),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _up(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """`leadmesh up --demo` as `make up` runs it, once it says it is up (its output kept)."""
    with (cwd / "up.log").open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "up", "--demo"],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + UP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if "leadmesh is up" in (cwd / "up.log").read_text(encoding="utf-8"):
            return process, (cwd / "up.log").read_text(encoding="utf-8").splitlines()
        time.sleep(0.5)
    process.kill()
    process.wait()
    pytest.fail("leadmesh up did not come up:\n" + (cwd / "up.log").read_text(encoding="utf-8"))


async def _new_key(billing_addr: str, home: Path, spend: int = 0) -> str:
    """The key of a new account with 1,000 credits (or its 30 free ones, ``spend`` of them spent),
    made with the admin credential of the stack of ``home``."""
    admin = CallerCredential.from_file(MeshCredentials.of(home).admin_token_path)
    async with open_channel(billing_addr, admin, None) as channel:
        billing = billing_grpc.BillingServiceStub(channel)
        created = await billing.CreateAccount(
            billing_pb.CreateAccountRequest(
                name="Dashboard tests", initial_credits=0 if spend else 1000, create_api_key=True
            )
        )
        if spend:
            await billing.Charge(
                billing_pb.ChargeRequest(
                    account_id=created.account.account_id, idempotency_key="spent", amount=spend
                )
            )
    return created.api_key_secret


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


@pytest.mark.parametrize("scenario", ["signin", "enrich", "credits", "csv", "icp", "keys"])
def test_dashboard_in_a_browser(scenario: str, dashboard_env: dict[str, str]) -> None:
    _run(scenario, dashboard_env)
