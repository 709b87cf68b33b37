"""``leadmesh verify`` as an operator runs it, against a running verifier."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from libs.embedded_store import free_port
from tests import grpc_callers
from tests.services.verifier.conftest import VerifierFactory


async def leadmesh(verifier_addr: str, home: Path, repo_root: Path, *args: str) -> tuple[int, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADMESH_")}
    env |= grpc_callers.caller_env()
    env.update(
        {"LEADMESH_VERIFIER_ADDR": verifier_addr, "LEADMESH_HOME": str(home), "PYTHONPATH": str(repo_root)}
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_verify_prints_one_json_object_per_address_in_order(
    start_verifier: VerifierFactory, tmp_path: Path, repo_root: Path
) -> None:
    running = await start_verifier()
    addresses = ["nobody@acme-corp.com", "alice@acme-corp.com", "x@catchall-corp.com", "temp1@mailinator.com"]
    code, output = await leadmesh(running.address, tmp_path, repo_root, "verify", *addresses, "--json")
    assert code == 0, output
    rows = [json.loads(line) for line in output.splitlines()]
    assert [row["email"] for row in rows] == addresses
    assert [row["status"] for row in rows] == ["invalid", "valid", "catch-all", "disposable"]
    assert rows[0]["smtp_code"] == 550 and rows[0]["enhanced_status_code"] == "5.1.1"
    assert rows[2]["is_catch_all"] and rows[3]["is_disposable"] and not rows[1]["is_role_account"]
    assert rows[1]["mx_hosts"] == ["mx-known.lmtest"] and rows[1]["decided_by"] == "smtp"


async def test_verify_in_text(start_verifier: VerifierFactory, tmp_path: Path, repo_root: Path) -> None:
    running = await start_verifier()
    code, output = await leadmesh(
        running.address, tmp_path, repo_root, "verify", "info@acme-corp.com", "bad@"
    )
    assert code == 0, output
    role, bad = output.splitlines()
    assert role.startswith("info@acme-corp.com  role-based") and "(role)" in role
    assert bad.startswith("bad@  invalid  bad syntax")


async def test_verify_without_a_verifier_says_so(tmp_path: Path, repo_root: Path) -> None:
    code, output = await leadmesh(
        f"127.0.0.1:{free_port()}",
        tmp_path,
        repo_root,
        "verify",
        "a@acme-corp.com",
        "--json",
        "--timeout",
        "3",
    )
    assert code == 1
    assert json.loads(output)["error"]["code"] == "UNAVAILABLE"
