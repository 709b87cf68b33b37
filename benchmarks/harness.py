"""What the end-to-end benchmarks share: waiting for a service to report SERVING, and the whole
mesh's surroundings on loopback (embedded store with the demo directory, mail, DNS, web) with
each service started as its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's packages

from peers import MODES, Outside, outside_world  # noqa: E402
from stage_clock import StageClock, stage_lines  # noqa: E402

from cli.mesh_credentials import MeshCredentials  # noqa: E402
from libs.caller_auth import SCOPES  # noqa: E402
from libs.channels import CallerCredential, Channel, open_channel  # noqa: E402
from libs.credentials import SigningKey  # noqa: E402
from libs.embedded_store import EmbeddedStore, die_with_parent, free_port  # noqa: E402
from libs.mongo import connect  # noqa: E402
from services.providers.demo import DemoDirectory, demo_directory  # noqa: E402
from services.providers.repository import DirectoryRepository  # noqa: E402

__all__ = [
    "MODES",
    "SERVICE_NAMES",
    "caller_channel",
    "Mesh",
    "cpu_seconds",
    "method",
    "peak_rss_mb",
    "running_mesh",
    "say",
    "seed",
    "stage_lines",
    "wait_serving",
]

# The services a benchmark starts (they inherit this environment) verify this run's credentials;
# the benchmark's own calls carry one with every scope.
_SIGNING_KEY = SigningKey.generate()
_TOKEN = _SIGNING_KEY.issue("benchmark", SCOPES)
os.environ.update(
    {"LEADMESH_GRPC_VERIFY_KEY": _SIGNING_KEY.public_pem().decode(), "LEADMESH_GRPC_TOKEN": _TOKEN}
)


def caller_channel(target: str, options: object = ()) -> Channel:
    """A channel to ``target`` whose calls carry the run's credential (no default deadline)."""
    return open_channel(target, CallerCredential(_TOKEN), None, options)


SERVICE_NAMES = {
    "billing": "leadmesh.billing.v1.BillingService",
    "providers": "leadmesh.providers.v1.ProvidersService",
    "verifier": "leadmesh.verifier.v1.VerifierService",
    "scoring": "leadmesh.scoring.v1.ScoringService",
    "intent": "leadmesh.intent.v1.IntentService",
    "enrichment": "leadmesh.enrichment.v1.EnrichmentService",
    "batch": "leadmesh.batch.v1.BatchService",
}


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def method(script: str, version: int, what: str) -> None:
    """The first line of a benchmark's output: what it measures, and its method's version. Bump the
    version whenever a change makes new figures incomparable with old ones (other load, other
    data, other accounting); benchmarks/compare.py refuses to compare across versions quietly."""
    say(f"method: {script} v{version}: {what}")


async def wait_serving(target: grpc.aio.Channel | str, service: str = "", timeout: float = 60.0) -> None:
    """Polls grpc.health.v1 on ``target`` (a channel or an address) until ``service`` is SERVING."""
    if isinstance(target, str):
        async with caller_channel(target) as channel:
            await wait_serving(channel, service, timeout)
        return
    stub = health_pb2_grpc.HealthStub(target)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{service or 'the service'} did not report SERVING within {timeout:.0f}s")


async def wait_http(url: str, timeout: float = 30.0) -> None:
    """Polls ``url`` until it answers below 500."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=1.0) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def peak_rss_mb(pid: int) -> float:
    """The peak resident set size of a running process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def seed(uri: str, people: int, seed: int = 11) -> DemoDirectory:
    """The deterministic demo directory of ``people`` (a tenth as many companies), bulk-inserted."""
    directory = demo_directory(seed=seed, companies=max(1, people // 10), people=people)
    client = connect(uri, app_name="bench", operation_timeout_ms=600_000)
    try:
        repository = DirectoryRepository(client["leadmesh"])
        await repository.ensure_indexes()
        await repository.insert_companies(directory.companies)
        await repository.insert_people(directory.people)
    finally:
        await client.close()
    return directory


@dataclass
class Mesh:
    directory: DemoDirectory
    store_uri: str
    addresses: dict[str, str]
    env: dict[str, str]
    outside: Outside
    stages: StageClock
    store_pid: int | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # With the ``up`` launcher: the ``leadmesh up`` process, whose children are the services.
    stack: subprocess.Popen[bytes] | None = None

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        # die_with_parent: an interrupted benchmark leaves no service running.
        process = subprocess.Popen([sys.executable, *command], env=self.env, preexec_fn=die_with_parent)
        self.processes[name] = process
        return process

    def pids(self) -> dict[str, int]:
        """The running processes of the mesh by name (under ``leadmesh up``: its children)."""
        found = {name: p.pid for name, p in self.processes.items() if p.poll() is None}
        if self.stack is not None and self.stack.poll() is None:
            found["leadmesh up"] = self.stack.pid
            found.update(_children(self.stack.pid))
        return found

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each running process of the mesh, the store's included."""
        found = {name: cpu_seconds(pid) for name, pid in self.pids().items()}
        if self.store_pid:
            found["store"] = cpu_seconds(self.store_pid)
        return found

    def heading(self) -> str:
        return f"mode: {self.outside.mode} ({self.outside.description})"


def _children(pid: int) -> dict[str, int]:
    """The child processes of ``pid`` by their service name (``-m services.<name> [worker]``)."""
    found: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            words = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace").split("\0")
            module = next((w for w in words if w.startswith(("services.", "gateway"))), child)
            name = module.removeprefix("services.") + ("-worker" if "worker" in words else "")
            found[name] = int(child)
    return found


@asynccontextmanager
async def running_mesh(
    people: int,
    services: tuple[str, ...],
    extra_env: dict[str, str] | None = None,
    mode: str = "instant",
    launcher: str = "processes",
) -> AsyncIterator[Mesh]:
    """An embedded store seeded with ``people`` demo people, the outside world of ``mode``
    (benchmarks/peers.py: DNS, mail, company websites and job boards on loopback), and the mesh:
    ``services`` then the gateway started as processes, each SERVING before the next starts
    (``launcher="processes"``), or ``leadmesh up`` (``launcher="up"``: every service, the gateway
    and one batch worker, as a user runs it; its settings are the defaults but for the outside
    world's addresses)."""
    root = Path(__file__).resolve().parents[1]
    vhost = f"leadmesh-bench-{uuid.uuid4().hex[:8]}"  # no message of an earlier run reaches this one
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    stages = await StageClock().start()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(Path(tmp), free_port()) as store:
        began = time.perf_counter()
        directory = await seed(store.uri, people)
        domains = {str(c["domain"]) for c in directory.companies}
        mailboxes = [str(p["email"]) for p in directory.people if p.get("email")]
        say(
            f"directory: {len(directory.people)} people, {len(domains)} companies "
            f"({time.perf_counter() - began:.1f}s)"
        )
        inherited_path = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
        names = (*services, "gateway") if launcher == "processes" else (*SERVICE_NAMES, "gateway")
        addresses = {name: f"127.0.0.1:{free_port()}" for name in names}
        tuned = {
            "LEADMESH_LOG_LEVEL": "WARNING",
            "LEADMESH_ENRICH_RATE_PER_SECOND": "1000000",
            "LEADMESH_ENRICH_RATE_BURST": "1000000",
            "LEADMESH_FREE_TIER_MONTHLY_CREDITS": "0",
        }
        async with outside_world(mode, domains, mailboxes) as outside:
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(root), str(root / "proto"), *inherited_path]),
                "LEADMESH_MONGODB_URI": store.uri,
                "LEADMESH_AMQP_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
                # Batch refuses to start without one on revisions that require it.
                "LEADMESH_WEBHOOK_SECRET": f"bench-{uuid.uuid4().hex}{uuid.uuid4().hex}",
                **outside.env,
                **stages.env,
                **(tuned if launcher == "processes" else {"LEADMESH_HOME": str(Path(tmp) / "home")}),
                **{f"LEADMESH_{name.upper()}_ADDR": address for name, address in addresses.items()},
                **(extra_env or {}),
            }
            process = store._process  # the store's own process, for its CPU time
            mesh = Mesh(
                directory, store.uri, addresses, env, outside, stages, process.pid if process else None
            )
            try:
                if launcher == "up":
                    # `leadmesh up` issues its credentials with this run's signing key, so that the
                    # benchmark's own calls (caller_channel) are valid in its stack too.
                    credentials = MeshCredentials.of(Path(env["LEADMESH_HOME"]))
                    credentials.directory.mkdir(parents=True, exist_ok=True)
                    credentials.signing_key_path.write_text(_SIGNING_KEY.private_pem().decode())
                    mesh.stack = subprocess.Popen(
                        [sys.executable, "-m", "cli.main", "up"],
                        env=env,
                        cwd=tmp,
                        stdout=subprocess.DEVNULL,
                        preexec_fn=die_with_parent,
                    )
                    await wait_http(f"http://{addresses['gateway']}/healthz", timeout=120)
                else:
                    for name in services:
                        mesh.start(name, "-m", f"services.{name}")
                        await wait_serving(addresses[name], SERVICE_NAMES[name])
                    mesh.start("gateway", "-m", "gateway")
                    await wait_http(f"http://{addresses['gateway']}/healthz")
                say(mesh.heading())
                yield mesh
            finally:
                # Waited for in threads: the stage clock receives the processes' last metrics.
                if mesh.stack is not None:
                    mesh.stack.send_signal(signal.SIGINT)
                    await asyncio.to_thread(mesh.stack.wait, 60)
                for process in reversed(mesh.processes.values()):
                    process.terminate()
                for process in mesh.processes.values():
                    await asyncio.to_thread(process.wait, 30)
                await stages.stop()
                _rabbitmqctl("delete_vhost", vhost)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)
