"""Verifier throughput: VerifyBatch over loopback DNS and SMTP servers.

    .venv/bin/python benchmarks/verifier.py [--addresses 10000] [--domains 500] [--mx-hosts 50]

Starts its own loopback DNS server and SMTP servers (one per MX host, on 127.0.0.2, 127.0.0.3, ...
with one port, mostly "known mailboxes" servers and some catch-all ones), an embedded store, and
``python -m services.verifier`` on free ports. Then it sends one VerifyBatch over every address
(20 per domain by default, one in five unknown to its server) and prints addresses per second,
p50/p99 per address (when its result reached the caller, and how long the verifier took to decide
it), and the SMTP sessions the servers saw against the limit of one per domain per
recipients-per-session. A second batch of the same addresses shows the cached path.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# The loopback servers live with the verifier's tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import caller_channel, wait_serving  # noqa: E402

from leadmesh.common.v1 import common_pb2  # noqa: E402
from leadmesh.verifier.v1 import verifier_service_pb2 as pb  # noqa: E402
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as pb_grpc  # noqa: E402
from libs.embedded_store import EmbeddedStore, free_port  # noqa: E402
from tests.services.verifier.mailservers import CatchAll, KnownMailboxes, LoopbackDns, MailFarm  # noqa: E402

SERVICE = "leadmesh.verifier.v1.VerifierService"


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def build_mail(domains: int, mx_hosts: int) -> tuple[MailFarm, dict[str, dict[str, list[str]]]]:
    """Every fifth MX host accepts any address; the others know user* local parts only."""
    behaviours: dict[str, KnownMailboxes | CatchAll | str] = {}
    for n in range(mx_hosts):
        if n % 5 == 4:
            behaviours[f"mx{n}"] = CatchAll()
        else:
            behaviours[f"mx{n}"] = KnownMailboxes(exists=lambda address: address.startswith("user"))
    farm = MailFarm(dict(behaviours))
    records = {f"mx{n}.bench.lmtest": {"A": [farm.addresses[f"mx{n}"]]} for n in range(mx_hosts)}
    for d in range(domains):
        records[f"bench-{d}.com"] = {"MX": [f"10 mx{d % mx_hosts}.bench.lmtest."]}
    return farm, records


def addresses(count: int, domains: int) -> list[str]:
    per_domain = math.ceil(count / domains)
    return [
        f"{'ghost' if n % 5 == 4 else 'user'}{n}@bench-{d}.com"
        for d in range(domains)
        for n in range(per_domain)
    ][:count]


async def one_batch(stub: pb_grpc.VerifierServiceStub, emails: list[str], label: str) -> Counter[str]:
    request = pb.VerifyBatchRequest(
        items=[pb.VerifyBatchItem(index=n, email=e) for n, e in enumerate(emails)]
    )
    arrivals: list[float] = []
    decided: list[float] = []
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    async for result in stub.VerifyBatch(request, timeout=600):
        arrivals.append(time.perf_counter() - started)
        decided.append(result.verdict.duration.ToNanoseconds() / 1e6)
        statuses[
            common_pb2.EmailStatus.Name(result.verdict.status).removeprefix("EMAIL_STATUS_").lower()
        ] += 1
    elapsed = time.perf_counter() - started
    assert len(arrivals) == len(emails), f"{len(arrivals)} results for {len(emails)} addresses"
    arrival_cuts = statistics.quantiles(arrivals, n=100)
    decided_cuts = statistics.quantiles(decided, n=100)
    say(
        f"{label:7} {len(emails) / elapsed:8.0f} addresses/s   {elapsed:6.2f} s   "
        f"received after: first {arrivals[0] * 1000:6.1f} ms  p50 {arrival_cuts[49] * 1000:7.1f} ms  "
        f"p99 {arrival_cuts[98] * 1000:7.1f} ms   "
        f"decided in p50 {decided_cuts[49]:6.1f} ms  p99 {decided_cuts[98]:6.1f} ms"
    )
    return statuses


async def run(args: argparse.Namespace, address: str, farm: MailFarm) -> None:
    emails = addresses(args.addresses, args.domains)
    async with caller_channel(address, options=[("grpc.max_receive_message_length", -1)]) as channel:
        await wait_serving(channel, SERVICE)
        stub = pb_grpc.VerifierServiceStub(channel)
        statuses = await one_batch(stub, emails, "fresh")
        sessions = farm.sessions()
        await one_batch(stub, emails, "cached")
    per_domain = math.ceil(len(emails) / args.domains)
    limit = args.domains * math.ceil(per_domain / args.recipients_per_session)
    say(f"statuses: {dict(sorted(statuses.items()))}")
    say(
        f"SMTP sessions opened: {sessions} for {args.domains} domains "
        f"(limit: one per domain per {args.recipients_per_session} recipients = {limit}); "
        f"cached batch opened {farm.sessions() - sessions}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--domains", type=int, default=500)
    parser.add_argument("--mx-hosts", type=int, default=50)
    parser.add_argument("--recipients-per-session", type=int, default=20)
    parser.add_argument("--mx-concurrency", type=int, default=4)
    parser.add_argument("--mx-rate", type=float, default=100.0, help="RCPT per second per MX host")
    parser.add_argument("--batch-concurrency", type=int, default=64, help="domains worked on at once")
    args = parser.parse_args()
    say(
        f"{args.addresses} addresses over {args.domains} domains and {args.mx_hosts} MX hosts; "
        f"{args.recipients_per_session} recipients per session, per MX host at most "
        f"{args.mx_concurrency} sessions and {args.mx_rate:g} RCPT/s; "
        f"{args.batch_concurrency} domains at once"
    )
    asyncio.run(serve_and_run(args))


async def serve_and_run(args: argparse.Namespace) -> None:
    farm, records = build_mail(args.domains, args.mx_hosts)
    await farm.start()
    dns = await LoopbackDns(records).start()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(Path(tmp), free_port()) as store:
        address = f"127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "LEADMESH_MONGODB_URI": store.uri,
            "LEADMESH_VERIFIER_ADDR": address,
            "LEADMESH_LOG_LEVEL": "WARNING",
            "LEADMESH_DNS_NAMESERVERS": dns.nameserver,
            "LEADMESH_VERIFIER_SMTP_PORT": str(farm.port),
            "LEADMESH_VERIFIER_ALLOW_PRIVATE_MX": "true",
            "LEADMESH_VERIFIER_HELO_NAME": "verifier.bench.lmtest",
            "LEADMESH_VERIFIER_MAIL_FROM": "probe@verifier.bench.lmtest",
            "LEADMESH_VERIFIER_RECIPIENTS_PER_SESSION": str(args.recipients_per_session),
            "LEADMESH_VERIFIER_MX_CONCURRENCY": str(args.mx_concurrency),
            "LEADMESH_VERIFIER_MX_RATE": str(args.mx_rate),
            "LEADMESH_VERIFIER_BATCH_CONCURRENCY": str(args.batch_concurrency),
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.verifier", env=env, stderr=subprocess.DEVNULL
        )
        try:
            await run(args, address, farm)
        finally:
            server.terminate()
            await server.wait()
    await dns.stop()
    await farm.stop()


if __name__ == "__main__":
    main()
