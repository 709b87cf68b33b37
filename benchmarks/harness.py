"""What the end-to-end benchmarks share: waiting for a service to report SERVING, and the whole
mesh's surroundings on loopback (embedded store with the demo directory, mail, DNS, web) with
each service started as its own process."""

from __future__ import annotations

import asyncio
import json
import os
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

from libs.caller_auth import SCOPES  # noqa: E402
from libs.channels import CallerCredential, Channel, open_channel  # noqa: E402
from libs.credentials import SigningKey  # noqa: E402
from libs.embedded_store import EmbeddedStore, die_with_parent, free_port  # noqa: E402
from libs.mongo import connect  # noqa: E402
from services.demo_world import KnownMailboxes, LoopbackDns, MailServer, Page, Web  # noqa: E402
from services.providers.demo import DemoDirectory, demo_directory  # noqa: E402
from services.providers.repository import DirectoryRepository  # noqa: E402

__all__ = [
    "SERVICE_NAMES",
    "caller_channel",
    "Mesh",
    "cpu_seconds",
    "method",
    "peak_rss_mb",
    "running_mesh",
    "say",
    "seed",
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


# The loopback address of the mail and web servers (the one the services are allowed to reach).
SITE = "127.0.0.2"

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
    store_pid: int | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        # die_with_parent: an interrupted benchmark leaves no service running.
        process = subprocess.Popen([sys.executable, *command], env=self.env, preexec_fn=die_with_parent)
        self.processes[name] = process
        return process

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each running process of the mesh, the store's included."""
        found = {name: cpu_seconds(p.pid) for name, p in self.processes.items() if p.poll() is None}
        if self.store_pid:
            found["store"] = cpu_seconds(self.store_pid)
        return found


@asynccontextmanager
async def running_mesh(
    people: int, services: tuple[str, ...], extra_env: dict[str, str] | None = None
) -> AsyncIterator[Mesh]:
    """An embedded store seeded with ``people`` demo people, every company's mail on one loopback
    SMTP server (loopback DNS), their homepages and job boards on a loopback web server, and
    ``services`` then the gateway started as processes, each SERVING before the next starts."""
    # The directory's people have mailboxes, other addresses are unknown, except at every fourth
    # company, whose server accepts any address (catch-all), as many real ones do.
    mailboxes_known: set[str] = set()
    catch_all_domains: set[str] = set()

    def exists(address: str) -> bool:
        address = address.lower()
        return address in mailboxes_known or address.rpartition("@")[2] in catch_all_domains

    mail = await MailServer(KnownMailboxes(exists=exists), host=SITE, hostname="mx.lmtest").start()
    web = await Web(SITE).start()
    web.pages["/site/"] = Page.html(
        "<html><head><script src='https://js.hs-scripts.com/1.js'></script></head></html>"
    )
    root = Path(__file__).resolve().parents[1]
    vhost = f"leadmesh-bench-{uuid.uuid4().hex[:8]}"  # no message of an earlier run reaches this one
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(Path(tmp), free_port()) as store:
        began = time.perf_counter()
        directory = await seed(store.uri, people)
        domains = sorted({str(c["domain"]) for c in directory.companies})
        mailboxes_known.update(str(p["email"]).lower() for p in directory.people if p.get("email"))
        catch_all_domains.update(domains[::4])
        records: dict[str, dict[str, list[str]]] = {"mx.lmtest": {"A": [SITE]}}
        records.update({domain: {"MX": ["10 mx.lmtest."]} for domain in domains})
        dns = await LoopbackDns(records).start()
        say(
            f"directory: {len(directory.people)} people, {len(domains)} companies "
            f"({time.perf_counter() - began:.1f}s)"
        )
        inherited_path = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part]
        addresses = {name: f"127.0.0.1:{free_port()}" for name in (*services, "gateway")}
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(root), str(root / "proto"), *inherited_path]),
            "LEADMESH_MONGODB_URI": store.uri,
            "LEADMESH_LOG_LEVEL": "WARNING",
            "LEADMESH_AMQP_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
            "LEADMESH_DNS_NAMESERVERS": dns.nameserver,
            "LEADMESH_VERIFIER_SMTP_PORT": str(mail.port),
            "LEADMESH_VERIFIER_ALLOW_PRIVATE_MX": "true",
            "LEADMESH_VERIFIER_MX_RATE": "100000",
            "LEADMESH_VERIFIER_HELO_NAME": "bench.lmtest",
            "LEADMESH_VERIFIER_MAIL_FROM": "probe@bench.lmtest",
            "LEADMESH_INTENT_HOMEPAGE_OVERRIDES": json.dumps({d: web.url("/site/") for d in domains}),
            "LEADMESH_INTENT_GREENHOUSE_BASE_URL": web.url("/greenhouse"),
            "LEADMESH_INTENT_LEVER_BASE_URL": web.url("/lever"),
            "LEADMESH_INTENT_ALLOWED_NETWORKS": json.dumps([f"{SITE}/32"]),
            "LEADMESH_ENRICH_RATE_PER_SECOND": "1000000",
            "LEADMESH_ENRICH_RATE_BURST": "1000000",
            "LEADMESH_FREE_TIER_MONTHLY_CREDITS": "0",
            **{f"LEADMESH_{name.upper()}_ADDR": address for name, address in addresses.items()},
            **(extra_env or {}),
        }
        process = store._process  # the store's own process, for its CPU time
        mesh = Mesh(directory, store.uri, addresses, env, process.pid if process else None)
        try:
            for name in services:
                mesh.start(name, "-m", f"services.{name}")
                await wait_serving(addresses[name], SERVICE_NAMES[name])
            mesh.start("gateway", "-m", "gateway")
            await wait_http(f"http://{addresses['gateway']}/healthz")
            yield mesh
        finally:
            for process in reversed(mesh.processes.values()):
                process.terminate()
            for process in mesh.processes.values():
                process.wait(timeout=30)
            await dns.stop()
            await web.stop()
            await mail.stop()
            _rabbitmqctl("delete_vhost", vhost)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)
