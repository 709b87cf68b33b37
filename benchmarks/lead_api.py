"""The public single-lead API end to end: POST /v1/enrich/lead through the whole mesh.

    .venv/bin/python benchmarks/lead_api.py [--people 3000] [--requests 3000] [--latency-requests 600]
        [--mode instant|real-world|offline]

Starts its own embedded store, bulk-inserts the deterministic demo directory, serves every
company's mail from one loopback SMTP server (loopback DNS) and their homepages/job boards from a
loopback web server, then starts `python -m services.{billing,providers,verifier,scoring,intent,
enrichment}` and `python -m gateway` as separate processes. It sends sustained POST /v1/enrich/lead
(emails of directory people, a few unknown; each request a new lead charge) with 32 concurrent
clients (throughput) and 4 (latency), each a keep-alive connection of a minimal HTTP/1.1 client (so
the load generator takes little of the 2 cores: it prints its own CPU per lead), after a warm-up
pass over every company (first intent fetch, verifier domain cache); before it, the first lead of
each of up to ``--latency-requests`` companies at 4 clients measures a cold company. ``--mode``
is the outside world (benchmarks/peers.py); the seconds leads waited on each stage are printed
for the 4-client run. Last, the same pipeline code
(services.enrichment.pipeline) runs in this process with each service's servicer called directly
(no HTTP, no gRPC, no auth), over the same store: the ratio is the cost of the mesh. Intent runs
without a broker (the weekly refresh is not on this path). Goals on 2 cores: 300 leads/s at 32
clients, p99 < 50 ms at 4, overhead < 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proto"))

from harness import MODES, Mesh, caller_channel, method, running_mesh, say, stage_lines  # noqa: E402

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb  # noqa: E402
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc  # noqa: E402
from leadmesh.common.v1 import common_pb2 as common  # noqa: E402
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb  # noqa: E402
from libs.ids import new_id  # noqa: E402
from libs.mongo import connect  # noqa: E402

SEED = 5
SERVICES = ("billing", "providers", "verifier", "scoring", "intent", "enrichment")


async def measure(
    label: str, total: int, clients: int, call: Callable[[int], Awaitable[object]]
) -> tuple[float, float, float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for n in counter:
            began = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    rate, p50, p99 = total / elapsed, cuts[49] * 1000, cuts[98] * 1000
    say(f"{label:38} {rate:7.0f} leads/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
    return rate, p50, p99


class _Context:
    """What the servicers read of a gRPC context in-process: the time left."""

    def time_remaining(self) -> float:
        return 8.0


# Seconds spent in each service method in-process: where the time goes.
SPENT: dict[str, list[float]] = {}


class _InProcess:
    """A stub whose methods call a servicer directly (the servicer's own proto in, proto out)."""

    def __init__(self, servicer: Any):
        self.servicer = servicer

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.servicer, name)
        spent = SPENT.setdefault(f"{type(self.servicer).__name__}.{name}", [])

        if name == "VerifyBatch":

            async def stream(request: Any, timeout: float | None = None) -> AsyncIterator[Any]:
                began = time.perf_counter()
                async for item in method(request, _Context()):
                    yield item
                spent.append(time.perf_counter() - began)

            return stream

        async def call(request: Any, timeout: float | None = None) -> Any:
            began = time.perf_counter()
            try:
                return await method(request, _Context())
            finally:
                spent.append(time.perf_counter() - began)

        return call


async def forget_verdicts(uri: str) -> None:
    """Drops the verifier's stored verdicts (each address is probed again)."""
    client = connect(uri, app_name="bench-reset")
    try:
        await client["leadmesh"]["verifier_addresses"].delete_many({})
    finally:
        await client.close()


async def in_process(uri: str, env: dict[str, str]) -> AsyncIterator[Any]:
    """The enrichment pipeline over in-process servicers of every service (same store)."""
    from services.billing.accounts import AccountDirectory
    from services.billing.ledger import CreditLedger
    from services.billing.repository import BillingRepository
    from services.billing.servicer import BillingServicer
    from services.enrichment.downstream import Downstream
    from services.enrichment.pipeline import Pipeline
    from services.enrichment.repository import RecordRepository
    from services.enrichment.settings import EnrichmentSettings
    from services.intent.app import create_signals
    from services.intent.servicer import IntentServicer
    from services.intent.settings import IntentSettings
    from services.providers.app import create_lookup
    from services.providers.config import ProvidersConfig
    from services.providers.servicer import ProvidersServicer
    from services.providers.settings import ProvidersSettings
    from services.scoring.profiles import IcpProfiles
    from services.scoring.repository import ScoringRepository
    from services.scoring.servicer import ScoringServicer
    from services.verifier.app import build_verifier
    from services.verifier.servicer import VerifierServicer
    from services.verifier.settings import VerifierSettings

    os.environ.update({k: v for k, v in env.items() if k.startswith("LEADMESH_")})
    client = connect(uri, app_name="bench-inproc")
    db = client["leadmesh"]
    billing_repo = BillingRepository(db)
    ledger = CreditLedger(billing_repo, 0)
    lookup, resources = await create_lookup(db, ProvidersSettings(), ProvidersConfig())
    verifier = await build_verifier(db, VerifierSettings())
    signals, intent_closers = await create_signals(db, IntentSettings())
    scoring_repo = ScoringRepository(db)
    downstream = Downstream(
        providers=_InProcess(ProvidersServicer(lookup)),  # type: ignore[arg-type]
        verifier=_InProcess(VerifierServicer(verifier, 50_000)),  # type: ignore[arg-type]
        intent=_InProcess(IntentServicer(signals, 2.0, 2.0)),  # type: ignore[arg-type]
        scoring=_InProcess(ScoringServicer(IcpProfiles(scoring_repo), 100_000, 1_000)),  # type: ignore[arg-type]
        billing=_InProcess(BillingServicer(AccountDirectory(billing_repo, ledger), ledger)),  # type: ignore[arg-type]
    )
    pipeline = Pipeline(downstream, RecordRepository(db), EnrichmentSettings())
    try:
        yield pipeline
    finally:
        await resources.close()
        for close in reversed(intent_closers):
            await close()
        await client.close()


class _Clients:
    """Keep-alive HTTP/1.1 connections, one per concurrent client, as a load generator (wrk, hey)
    holds them: a request written whole, the response read by its Content-Length.

    httpx took about 1 ms of CPU per request here (its connection pool scans every connection per
    request), and on 2 cores that CPU is taken from the mesh being measured."""

    def __init__(self, host: str, port: int, headers: dict[str, str]):
        self.host, self.port = host, port
        self.headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        reader, writer = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
        data = json.dumps(body).encode()
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in head[1:] if line)
        answer = json.loads(await reader.readexactly(int(fields["content-length"])))
        if fields.get("connection") == "close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return int(head[0].split()[1]), answer

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def run(args: argparse.Namespace) -> None:
    async with running_mesh(args.people, SERVICES, mode=args.mode) as mesh:
        await measure_api(args, mesh)


async def measure_api(args: argparse.Namespace, mesh: Mesh) -> None:
    directory, addresses, env, uri = mesh.directory, mesh.addresses, mesh.env, mesh.store_uri
    async with caller_channel(addresses["billing"]) as channel:
        created = await billing_grpc.BillingServiceStub(channel).CreateAccount(
            billing_pb.CreateAccountRequest(name="bench", initial_credits=10_000_000, create_api_key=True)
        )
    account, key = created.account.account_id, created.api_key_secret
    rng = random.Random(SEED)
    emails = [str(p["email"]) for p in directory.people if p.get("email")]
    by_domain = {}
    for email in emails:
        by_domain.setdefault(email.rpartition("@")[2], email)
    host, _, port = addresses["gateway"].rpartition(":")
    http = _Clients(host, int(port), {"Authorization": f"Bearer {key}"})
    try:
        statuses: dict[str, int] = {}

        async def post(n: int) -> None:
            email = rng.choice(emails) if n % 50 else f"nobody{n}@unknown-corp.example"
            status, body = await http.post("/v1/enrich/lead", {"email": email})
            label = body.get("status") or body.get("error", {}).get("code", str(status))
            if body.get("meta", {}).get("degraded"):
                label += "+degraded"
            statuses[label] = statuses.get(label, 0) + 1

        warm = list(by_domain.values())
        cold = warm[: args.latency_requests]
        await measure(
            "cold companies (first lead of each), 4 clients",
            len(cold),
            4,
            lambda n: http.post("/v1/enrich/lead", {"email": cold[n]}),
        )
        began = time.perf_counter()
        await measure(
            "warm-up (every company once), 32 clients",
            len(warm),
            32,
            lambda n: http.post("/v1/enrich/lead", {"email": warm[n]}),
        )
        say(f"  warm-up took {time.perf_counter() - began:.1f}s")
        rng.seed(SEED)  # the in-process run below draws the same leads
        before, own = mesh.cpu(), time.process_time()
        mesh_rate, _, _ = await measure("POST /v1/enrich/lead, 32 clients", args.requests, 32, post)
        own = (time.process_time() - own) * 1000 / args.requests
        spent = {
            name: (cpu - before.get(name, 0.0)) * 1000 / args.requests for name, cpu in mesh.cpu().items()
        }
        say(
            "  CPU ms per lead at 32 clients: "
            + ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(spent.items(), key=lambda item: -item[1]))
            + f"; total {sum(spent.values()):.1f}"
        )
        say(f"  and this process (the 32 HTTP clients, loopback mail, DNS and web servers): {own:.1f}")
        waited = await mesh.stages.settle()
        await measure("POST /v1/enrich/lead, 4 clients", args.latency_requests, 4, post)
        for line in stage_lines(mesh.stages.since(waited, await mesh.stages.settle())):
            say(line)
        say(f"  answers: {dict(sorted(statuses.items()))}")
    finally:
        await http.close()
    # The same work in-process: the verdicts the mesh stored are forgotten, so that the same leads
    # (same seed, after the same warm-up) are probed over SMTP again, as they were through the mesh.
    await forget_verdicts(uri)
    gen = in_process(uri, env)
    pipeline = await gen.__anext__()
    try:
        options = pb.EnrichOptions()

        async def enrich(email: str) -> None:
            await pipeline.enrich_lead(
                account,
                new_id("req"),
                common.LeadInput(email=email),
                options,
                _Context(),
                new_request_id=True,
            )

        async def direct(n: int) -> None:
            await enrich(rng.choice(emails) if n % 50 else f"nobody{n}@unknown-corp.example")

        for email in warm:
            await enrich(email)
        rng.seed(SEED)
        in_process_rate, _, _ = await measure("in-process pipeline, 32 concurrent", args.requests, 32, direct)
        say(f"  mesh overhead at 32 clients (in-process / mesh leads/s): {in_process_rate / mesh_rate:.2f}x")
        SPENT.clear()
        total: list[float] = []

        async def timed(n: int) -> None:
            began = time.perf_counter()
            await direct(n)
            total.append(time.perf_counter() - began)

        await measure("in-process pipeline, 4 concurrent", args.latency_requests, 4, timed)
        say(
            "  where the time goes at 4 concurrent "
            f"(mean per request {statistics.mean(total) * 1000:.1f} ms):"
        )
        for name, spent in sorted(SPENT.items(), key=lambda item: -sum(item[1])):
            say(f"    {name:36} {len(spent):5} calls   mean {statistics.mean(spent) * 1000:6.1f} ms")
    finally:
        await gen.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--latency-requests", type=int, default=600)
    parser.add_argument("--mode", choices=MODES, default="instant", help="the outside world")
    args = parser.parse_args()
    method(
        "lead_api.py",
        4,
        f"POST /v1/enrich/lead through gateway and mesh processes, outside world {args.mode} (v4: a "
        "cold-company pass before the warm-up, waits per stage), over the .example demo directory "
        "(v2: Faker domains); CPU per lead of every process; the same pipeline in-process after the "
        "mesh's verdicts are forgotten",
    )
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
