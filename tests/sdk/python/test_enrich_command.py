"""``leadmesh enrich`` end to end, as a user runs it (a process of its own, no terminal): files
small and large with their progress lines, summary and enriched file; one lead readable or as
JSON; the key from --api-key, LEADMESH_API_KEY or the `.leadmesh/` of `leadmesh up`; Ctrl-C on a
running job asking whether to cancel it. Against the real mesh on loopback."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sys
from pathlib import Path

from cli.mesh_credentials import MeshCredentials
from cli.state import StackState
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from tests import grpc_callers
from tests.sdk.python.conftest import base_url
from tests.services.enrichment.mesh import Mesh
from tests.waiting import eventually

REPO = Path(__file__).resolve().parents[3]
EMAILS = ["mike.chen@techflow.io", "ana@techflow.io", "lena@techflow.io", "nobody@unknown-example.org"]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADMESH_")}
    paths = [str(REPO), str(REPO / "proto"), str(REPO / "sdk" / "python" / "src")]
    return {**env, "PYTHONPATH": os.pathsep.join(paths), **extra}


async def start(cwd: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "enrich",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def leadmesh_enrich(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await start(cwd, env, *args)
    out, err = await asyncio.wait_for(process.communicate(b""), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def write_leads(path: Path, count: int) -> Path:
    path.write_text("Work Email,Company\n" + "".join(f"{EMAILS[n % 4]},TechFlow\n" for n in range(count)))
    return path


async def test_a_small_file_with_the_key_given(mesh: Mesh, tmp_path: Path) -> None:
    account, key = await mesh.new_account(credits=10)
    write_leads(tmp_path / "few.csv", 4)
    code, out, err = await leadmesh_enrich(
        tmp_path, cli_env(), "few.csv", "--api-key", key, "--base-url", base_url(mesh)
    )
    assert code == 0, err
    assert "API key: --api-key" in err
    assert "few.csv: 4 rows: 3 enriched, 1 not_found; 3 credits used" in out
    assert "written to few-enriched.csv" in out
    with (tmp_path / "few-enriched.csv").open() as file:
        written = list(csv.DictReader(file))
    assert [r["Work Email"] for r in written] == EMAILS and written[0]["status"] == "enriched"
    assert await mesh.balance(account) == 7


async def test_a_large_file_shows_progress_lines_and_writes_where_asked(mesh: Mesh, tmp_path: Path) -> None:
    _, key = await mesh.new_account(credits=100)
    write_leads(tmp_path / "many.csv", 20)
    env = cli_env(LEADMESH_API_KEY=key, LEADMESH_BASE_URL=base_url(mesh))
    code, out, err = await leadmesh_enrich(
        tmp_path,
        env,
        "many.csv",
        "-o",
        "out/result.csv",
        "--fields",
        "person,company",
        "--poll-interval",
        "0.05",
    )
    assert code == 0, err
    assert "API key: LEADMESH_API_KEY" in err
    progress = [line for line in err.splitlines() if line.startswith("many.csv: ") and " rows (" in line]
    assert progress and progress[-1].startswith("many.csv: 20/20 rows (100%)"), err
    assert "many.csv: 20 rows: 15 enriched, 5 not_found; 15 credits used" in out
    assert len(list(csv.DictReader((tmp_path / "out" / "result.csv").read_text().splitlines()))) == 20


async def test_one_lead_readable_and_as_json(mesh: Mesh, tmp_path: Path) -> None:
    _, key = await mesh.new_account(credits=10)
    env = cli_env(LEADMESH_API_KEY=key, LEADMESH_BASE_URL=base_url(mesh))
    code, out, err = await leadmesh_enrich(tmp_path, env, "--email", "mike.chen@techflow.io")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "HTTP 200 completed (1 credit)"
    assert "Mike Chen" in lines[1] and "<mike.chen@techflow.io> valid" in lines[1]
    assert "TechFlow" in lines[2] and lines[3].strip().startswith("ICP ")
    code, out, _ = await leadmesh_enrich(tmp_path, env, "--email", "ana@techflow.io", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["status"] == "completed" and answer["lead"]["email"] == "ana@techflow.io"
    code, out, err = await leadmesh_enrich(
        tmp_path, env, "--company-domain", "techflow.io", "--max-contacts", "0"
    )
    assert code == 1 and "max_contacts" in err


async def test_the_key_of_leadmesh_up_here_and_no_key_at_all(mesh: Mesh, tmp_path: Path) -> None:
    gateway = base_url(mesh).removeprefix("http://")
    env = cli_env()
    code, _, err = await leadmesh_enrich(tmp_path, env, "--email", "ana@techflow.io")
    assert code == 2 and "no API key" in err
    billing = mesh.servers["gateway_settings"].billing_addr
    StackState(
        os.getpid(), "mongodb://unused", "amqp://unused", {"billing": billing, "gateway": gateway}
    ).save(tmp_path / ".leadmesh")
    # The admin credential `leadmesh up` keeps beside its state (here, the test run's).
    admin = MeshCredentials.of(tmp_path / ".leadmesh").admin_token_path
    admin.parent.mkdir(parents=True, exist_ok=True)
    admin.write_text(grpc_callers.ADMIN_TOKEN)
    code, out, err = await leadmesh_enrich(tmp_path, env, "--email", "not-a-lead")
    assert "API key: the local stack's: account acct_" in err and f"gateway http://{gateway}" in err
    kept = (tmp_path / ".leadmesh" / "api_key").read_text().strip()
    assert kept.startswith("lm_") and oct((tmp_path / ".leadmesh" / "api_key").stat().st_mode)[-3:] == "600"
    account = err.split("account ", 1)[1].split()[0]
    await mesh.billing.AddCredits(
        billing_pb.AddCreditsRequest(account_id=account, idempotency_key="t", amount=5)
    )
    code, out, err = await leadmesh_enrich(tmp_path, env, "--email", "ana@techflow.io", "--json")
    assert "API key: the local stack's, .leadmesh/api_key" in err
    assert code == 0, err
    assert (tmp_path / ".leadmesh" / "api_key").read_text().strip() == kept


async def test_ctrl_c_asks_and_cancels_the_job(mesh: Mesh, tmp_path: Path) -> None:
    """Runs last: it stops the batch worker, so that the job stays queued until cancelled."""
    await mesh.servers["batch_worker"].stop()
    _, key = await mesh.new_account(credits=100)
    write_leads(tmp_path / "many.csv", 20)
    env = cli_env(LEADMESH_API_KEY=key, LEADMESH_BASE_URL=base_url(mesh))
    process = await start(tmp_path, env, "many.csv", "--poll-interval", "0.05")
    assert process.stderr is not None and process.stdin is not None
    seen, cursor = "", 0

    async def line_with(text: str) -> str:
        """The (first) line of stderr, read so far or coming, holding ``text``; a prompt counts."""
        nonlocal seen, cursor
        assert process.stderr is not None
        while text not in seen[cursor:]:
            try:
                piece = (await asyncio.wait_for(process.stderr.read(4096), 30)).decode()
            except TimeoutError:
                raise AssertionError(f"no {text!r} in: {seen!r}") from None
            assert piece, seen
            seen += piece
        at = seen.index(text, cursor)
        begin = seen.rfind("\n", 0, at) + 1
        cursor = seen.find("\n", at) if "\n" in seen[at:] else len(seen)
        return seen[begin:cursor]

    job_line = await line_with("rows, job ")
    job_id = job_line.strip().rsplit(" ", 1)[-1]
    await line_with("many.csv: 0/20 rows")
    process.send_signal(signal.SIGINT)
    await line_with(f"cancel the job {job_id}? [y/N] ")
    process.stdin.write(b"y\n")
    await process.stdin.drain()
    said = await line_with("is cancelled")
    assert said.endswith(f"the job {job_id} is cancelled (0 credits used)")
    assert await asyncio.wait_for(process.wait(), 30) == 130
    got = await eventually(
        lambda: mesh.http.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"})
    )
    assert got.json()["status"] == "cancelled"
    assert not (tmp_path / "many-enriched.csv").exists()
