"""The TypeScript SDK (``sdk/js``, npm ``leadmesh-client``) against the real mesh, no mocked HTTP.

This test starts the whole mesh on loopback (the enrichment tests' ``running_mesh``: embedded store,
RabbitMQ, loopback DNS/SMTP/web, batch server) with the gateway in front, makes the accounts the
SDK's tests need, and runs its suites (on the committed build, which the first test holds to a
fresh strict ``tsc`` build; ``npm ci`` first when ``node_modules`` is missing) with Node's test
runner, in three phases of the mesh:

- ``test/queued``: no batch worker yet, so an uploaded job stays queued (download 409, cancel);
- ``test/live``: a worker runs: every resource, every error class from a real answer, a POST retried
  through a proxy that loses its first answer (charged once), a CSV job with progress, a webhook
  delivered to the suite's own loopback receiver and verified;
- ``test/outage``: the enrichment service stopped, so the gateway answers 503 (retried, then APIError).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from pymongo.asynchronous.database import AsyncDatabase

from gateway.app import create_app
from gateway.settings import GatewaySettings
from libs.embedded_store import free_port
from libs.mongo import Document
from services.batch.app import create_worker
from services.batch.settings import BatchSettings
from tests.sdk.loopback import LosingProxy, SilentServer
from tests.services.enrichment.mesh import Mesh, running_mesh
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(900)

ADDRESSES = (
    "billing_addr",
    "providers_addr",
    "verifier_addr",
    "scoring_addr",
    "intent_addr",
    "enrichment_addr",
)


async def _run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """The command's output (stdout and stderr); a failure shows it."""
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{' '.join(args)} did not finish within {timeout}s") from None
    text = output.decode(errors="replace")
    assert process.returncode == 0, f"{' '.join(args)} exited with {process.returncode}:\n{text}"
    return text


def _step(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }


@pytest.fixture(scope="module")
def js_sdk(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdk/js, its build tools installed from the lock file (once, as ``make js-sdk`` does)."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "the TypeScript SDK's tests need Node 18+ and npm on the PATH"
    root = repo_root / "sdk" / "js"
    if not (root / "node_modules" / ".package-lock.json").exists():
        _step([npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"], root)
    return root


def test_the_committed_build_is_what_tsc_makes_of_the_sources(js_sdk: Path, tmp_path: Path) -> None:
    """dist/ is committed (so that ``npm install ./sdk/js`` needs no build step): it must be the
    strict ``tsc`` build of src/ as it is."""
    _step(
        [str(js_sdk / "node_modules" / ".bin" / "tsc"), "-p", "tsconfig.json", "--outDir", str(tmp_path)],
        js_sdk,
    )
    built = _tree(tmp_path)
    assert built, "tsc wrote nothing"
    assert _tree(js_sdk / "dist") == built, (
        "sdk/js/dist is stale: run `npm run build` in sdk/js and commit dist/"
    )


@asynccontextmanager
async def limited_gateway(mesh: Mesh) -> AsyncIterator[str]:
    """A second gateway in front of the same services whose enrich rate limit is 2 requests, then
    one every 4 seconds."""
    services = mesh.servers["batch_settings"]
    settings = GatewaySettings(
        **{name: getattr(services, name) for name in ADDRESSES},
        enrich_rate_burst=2,
        enrich_rate_per_second=0.25,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def node_suite(root: Path, name: str, env: dict[str, str]) -> str:
    node = shutil.which("node") or "node"
    output = await _run(node, "--test", "--test-reporter=spec", f"test/{name}/", cwd=root, env=env)
    passed = re.search(r"^\S* ?pass (\d+)$", output, re.MULTILINE)
    assert passed and int(passed[1]) > 0 and re.search(r"^\S* ?fail 0$", output, re.MULTILINE), output
    return output


async def test_typescript_sdk_against_the_mesh(
    js_sdk: Path, db: AsyncDatabase[Document], amqp_url: str
) -> None:
    batch = BatchSettings(
        shutdown_grace=0.5,
        batch_chunk_rows=2,
        batch_max_rows=60,
        batch_max_attempts=2,
        batch_webhook_allowed_networks=["127.0.0.0/8"],
        batch_webhook_allowed_ports=["1024-65535"],  # the test receivers' ports
        batch_webhook_base_delay=0.2,
        webhook_secret="sdk-test-master-secret",
    )
    async with running_mesh(db, amqp_url, batch=batch, batch_worker=False, csv_sync_max_rows=8) as mesh:
        gateway_url = str(mesh.http.base_url).rstrip("/")
        keys = {name: (await mesh.new_account(credits=credits))[1] for name, credits in [
            ("MAIN", 100), ("JOBS", 300), ("ACCOUNT", 10), ("RETRY", 10),
            ("BROKE", 0), ("RATE", 10), ("OTHER", 5),
        ]}  # fmt: skip
        proxy = LosingProxy(mesh.http.base_url.port or 0, lose=b"POST /v1/enrich/lead ")
        silent = SilentServer()
        await proxy.start()
        await silent.start()
        try:
            async with limited_gateway(mesh) as limited_url:
                env = {k: v for k, v in os.environ.items() if not k.startswith("LEADMESH_")} | {
                    "LEADMESH_BASE_URL": gateway_url,
                    "LEADMESH_API_KEY": keys["MAIN"],
                    **{f"LEADMESH_TEST_KEY_{name}": key for name, key in keys.items()},
                    "LEADMESH_TEST_PROXY_URL": proxy.url,
                    "LEADMESH_TEST_LIMITED_URL": limited_url,
                    "LEADMESH_TEST_SILENT_URL": silent.url,
                    "LEADMESH_TEST_CLOSED_URL": f"http://127.0.0.1:{free_port()}",
                }
                await node_suite(js_sdk, "queued", env)

                worker = await create_worker(db, mesh.servers["batch_settings"], amqp_url)
                await worker.start()
                try:
                    await node_suite(js_sdk, "live", env)
                finally:
                    await worker.stop()
                # The lost answer's request came twice, with the same key, and was served twice.
                assert proxy.lost == 1
                attempts = proxy.requests(b"POST /v1/enrich/lead ")
                assert len(attempts) == 2, attempts
                assert len({_header(head, "idempotency-key") for head in attempts}) == 1, attempts
                version = _package_version(js_sdk)
                for head in attempts:
                    assert _header(head, "x-leadmesh-client") == f"leadmesh-js/{version}", head
                    assert _header(head, "user-agent") == f"leadmesh-js/{version}", head

                await mesh.stop("enrichment")
                before = len(proxy.requests(b"POST /v1/enrich/lead "))
                await node_suite(js_sdk, "outage", env)
                # maxRetries: 2 in the suite: the 503 was tried three times.
                assert len(proxy.requests(b"POST /v1/enrich/lead ")) - before == 3
        finally:
            await proxy.stop()
            await silent.stop()


def _header(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _package_version(root: Path) -> str:
    return str(json.loads((root / "package.json").read_text())["version"])
