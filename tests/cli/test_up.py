"""`leadmesh up` and the admin commands as a user runs them: real processes, real ports."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.auth import AUTH_CACHE_TTL
from libs.embedded_store import free_port
from services.demo_world import VERDICT_KINDS

LEADMESH = [sys.executable, "-m", "cli.main"]


@pytest.fixture
def stack_env(tmp_path: Path, repo_root: Path) -> dict[str, str]:
    """Environment of a stack on free ports with its home in a temporary directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADMESH_")}
    env.update(
        {
            "LEADMESH_HOME": str(tmp_path / "home"),
            "LEADMESH_EMBEDDED_STORE_PORT": str(free_port()),
            "LEADMESH_SHUTDOWN_GRACE": "2",
            "PYTHONPATH": str(repo_root),
        }
    )
    for name in ("enrichment", "providers", "verifier", "scoring", "intent", "billing", "batch", "gateway"):
        env[f"LEADMESH_{name.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
    return env


Stack = tuple[subprocess.Popen[str], list[str]]


@pytest.fixture
def running_stack(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    yield from _up(stack_env, tmp_path)


@pytest.fixture
def demo_stack(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    """`leadmesh up --demo`, as `make up` runs it."""
    yield from _up(stack_env, tmp_path, "--demo")


def _up(stack_env: dict[str, str], tmp_path: Path, *args: str) -> Iterator[Stack]:
    process = subprocess.Popen(
        [*LEADMESH, "up", *args],
        env=stack_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "leadmesh is up" in line:
            break
    if not any("leadmesh is up" in line for line in lines):
        process.kill()
        process.wait()
        process.stdout.close()
        pytest.fail("leadmesh up did not come up:\n" + "\n".join(lines))
    yield process, lines
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()
    process.stdout.close()


def admin(env: dict[str, str], cwd: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [*LEADMESH, *args, "--json"], env=env, cwd=cwd, capture_output=True, text=True, timeout=30
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _assert_demo_shown(lines: list[str], home: Path) -> None:
    """The demo world's leads by email, by name and company, a company alone and a CSV file, each
    with its curl line and answer, before the line scripts wait for."""
    assert lines[-1].startswith("leadmesh is up")
    curls = [line for line in lines if line.startswith("$ curl")]
    assert [curl.split()[3].rsplit("/", 2)[-1] for curl in curls] == ["lead", "lead", "lead", "csv"]
    assert sum(line.startswith("HTTP 200 completed") for line in lines) == 3, "\n".join(lines)
    text = "\n".join(lines)
    assert "best-fit contacts:" in text and "ICP " in text and "intent: " in text
    with (home / "demo" / "leads-enriched.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    assert {row["status"] for row in rows} == {"enriched", "not_found", "invalid_input"}
    enriched = [row for row in rows if row["status"] == "enriched"]
    # Every email verdict kind comes out of the real verifier against the demo world.
    assert {row["enriched_email_status"] for row in enriched} == set(VERDICT_KINDS)
    assert all(row["icp_score"] for row in enriched)
    signals = {name for row in enriched for name in row["intent_signals"].split("; ") if name}
    assert any(name.startswith("hiring_") for name in signals)
    assert any(name.startswith("adopted_") for name in signals)
    # Every service runs in demo mode, pointed at the world.
    environments = [_environ(pid) for pid in processes_of(home)]
    children = [env for env in environments if "LEADMESH_VERIFIER_SMTP_PORT" in env]
    assert len(children) == 9  # seven services, the batch worker and the gateway
    assert all(env.get("LEADMESH_DEMO") == "true" for env in children)


def _environ(pid: int) -> dict[str, str]:
    try:
        pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(pair.decode(errors="replace").partition("=")[::2] for pair in pairs if b"=" in pair)


def test_up_demo_shows_the_main_job_and_admin_commands_reach_the_stack(
    demo_stack: Stack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """`make up` (`leadmesh up --demo`), then the README's admin commands from another terminal."""
    process, lines = demo_stack
    gateway = f"http://{stack_env['LEADMESH_GATEWAY_ADDR']}"
    assert any(line.startswith(f"gateway: {gateway}") for line in lines)
    assert any(line.startswith("billing: SERVING") for line in lines)
    home = Path(stack_env["LEADMESH_HOME"])
    _assert_demo_shown(lines, home)
    assert len(processes_of(home)) >= 3  # up itself, billing, the gateway (the store is started apart)

    # Admin commands find the stack through LEADMESH_HOME alone (addresses from its state file).
    admin_env = {k: v for k, v in stack_env.items() if not k.endswith("_ADDR")}
    created = admin(admin_env, tmp_path, "accounts", "create", "--name", "Acme", "--credits", "5")
    key = str(created["api_key"])
    assert key.startswith("lm_live_")

    credits = httpx.get(f"{gateway}/v1/credits", headers={"Authorization": f"Bearer {key}"}).json()
    assert credits["balance"] == 35
    assert credits["free_tier"]["monthly_credits"] == 30

    # `leadmesh enrich` from here with no key: the demo account's, which up --demo kept.
    sdk = str(Path(__file__).resolve().parents[2] / "sdk" / "python" / "src")
    enrich_env = {**admin_env, "PYTHONPATH": os.pathsep.join([admin_env["PYTHONPATH"], sdk])}
    enriched = subprocess.run(
        [*LEADMESH, "enrich", str(home / "demo" / "leads.csv"), "-o", "again.csv"],
        env=enrich_env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert enriched.returncode == 0, enriched.stderr
    assert "API key: the local stack's, " in enriched.stderr and "leads.csv: 20 rows: " in enriched.stdout

    wrong = httpx.get(f"{gateway}/v1/credits", headers={"Authorization": "Bearer lm_live_wrong"})
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"

    second = admin(admin_env, tmp_path, "keys", "create", "--account", str(created["account_id"]), "--test")
    assert str(second["api_key"]).startswith("lm_test_")
    revoked = admin(admin_env, tmp_path, "keys", "revoke", key[:16], "--account", str(created["account_id"]))
    assert revoked["revoked"] is True
    # The gateway caches a successful authentication for AUTH_CACHE_TTL seconds.
    deadline = time.monotonic() + AUTH_CACHE_TTL + 5
    while (
        after := httpx.get(f"{gateway}/v1/credits", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 200:
        assert time.monotonic() < deadline, "a revoked key still works after the auth cache expired"
        time.sleep(0.25)
    assert after.json()["error"]["code"] == "API_KEY_REVOKED"

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not (home / "stack.json").exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{gateway}/healthz")
    assert processes_of(home) == []


def processes_of(home: Path) -> list[int]:
    """Processes started for the stack of ``home`` (they all carry LEADMESH_HOME in their environment)."""
    marker = f"LEADMESH_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_children_do_not_outlive_a_killed_up(running_stack: Stack, stack_env: dict[str, str]) -> None:
    home = Path(stack_env["LEADMESH_HOME"])
    children = [pid for pid in processes_of(home) if pid != running_stack[0].pid]
    assert children
    running_stack[0].kill()  # SIGKILL: `up` cannot stop anything itself
    running_stack[0].wait()
    deadline = time.monotonic() + 30
    while alive := [pid for pid in children if Path(f"/proc/{pid}").exists() and not _zombie(pid)]:
        assert time.monotonic() < deadline, f"orphans left running: {alive}"
        time.sleep(0.2)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def test_a_second_up_from_the_same_home_refuses(
    running_stack: Stack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    second = subprocess.run(
        [*LEADMESH, "up"], env=stack_env, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert second.returncode == 1
    assert "already running" in second.stdout
    running_stack[0].send_signal(signal.SIGINT)
    assert running_stack[0].wait(timeout=30) == 0


def test_admin_commands_without_a_stack_say_so(stack_env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [*LEADMESH, "accounts", "create", "--name", "x"],
        env=stack_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "not reachable" in done.stdout
