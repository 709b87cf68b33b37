"""Intent latency and throughput over gRPC against the embedded store and a loopback web site.

    .venv/bin/python benchmarks/intent.py [--companies 200] [--calls 500] [--concurrency 16]

Starts its own embedded store, a loopback site on 127.0.0.2 serving a Greenhouse-shaped board and
a homepage for every company, and `python -m services.intent` (no broker: LEADMESH_INTENT_WORKER=
false), then prints for: GetSignals of never-seen companies (boards and homepage fetched within
the call), GetSignals of known companies, GetSignalsBatch of 100 known companies, and
RecordEvents of 1,000 events per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import caller_channel, wait_serving  # noqa: E402

from leadmesh.intent.v1 import intent_service_pb2 as pb
from leadmesh.intent.v1 import intent_service_pb2_grpc as pb_grpc
from libs.embedded_store import EmbeddedStore, free_port

SITE = "127.0.0.2"
HOMEPAGE = (
    b"""<html><head><meta name="generator" content="WordPress 6.4">
<script src="https://js.hs-scripts.com/1.js"></script>
<script src="https://www.googletagmanager.com/gtm.js?id=GTM-X1"></script></head>
<body>"""
    + b"<p>content</p>" * 2000
    + b"</body></html>"
)
TITLES = [
    "Sales Operations Manager",
    "Account Executive",
    "Senior Software Engineer",
    "Product Marketing Manager",
]


def board() -> bytes:
    updated = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    jobs = [
        {"title": f"{t} {n}", "updated_at": updated, "location": {"name": "Remote"}}
        for n in range(10)
        for t in TITLES
    ]
    return json.dumps({"jobs": jobs}).encode()


async def serve_site(port: int) -> asyncio.Server:
    jobs = board()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            path = (await reader.readuntil(b"\r\n\r\n")).split(b" ")[1].decode()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        if path.startswith("/greenhouse/"):
            status, kind, body = "200 OK", "application/json", jobs
        elif path.startswith("/site/"):
            status, kind, body = "200 OK", "text/html", HOMEPAGE
        else:
            status, kind, body = "404 Not Found", "text/plain", b"no"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, SITE, port)


async def measure(
    name: str, total: int, concurrency: int, call: Callable[[int], Awaitable[object]], unit: int = 1
) -> None:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for n in counter:
            started = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    rate, p50, p99 = total * unit / elapsed, cuts[49] * 1000, cuts[98] * 1000
    what = "items/s" if unit > 1 else "req/s"
    print(  # noqa: T201
        f"{name:34} {rate:8.0f} {what:8} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"
        f"   ({total} calls, {concurrency} concurrent)"
    )


async def run(address: str, companies: int, calls: int, concurrency: int) -> None:
    domains = [f"company{n}.com" for n in range(companies)]
    async with caller_channel(address) as channel:
        await wait_serving(channel)
        intent = pb_grpc.IntentServiceStub(channel)

        async def first(n: int) -> None:
            reply = await intent.GetSignals(
                pb.GetSignalsRequest(account_id="acct", company_domain=domains[n]), timeout=10
            )
            assert not reply.company.pending_sources and len(reply.company.signals) >= 5, reply

        await measure("GetSignals (never seen: fetch)", companies, concurrency, first)
        await measure(
            "GetSignals (known)",
            calls,
            concurrency,
            lambda n: intent.GetSignals(
                pb.GetSignalsRequest(account_id="acct", company_domain=domains[n % companies]), timeout=10
            ),
        )
        batch = domains[:100]
        await measure(
            "GetSignalsBatch (100 known)",
            max(10, calls // 20),
            4,
            lambda n: intent.GetSignalsBatch(
                pb.GetSignalsBatchRequest(account_id="acct", company_domains=batch), timeout=10
            ),
            unit=len(batch),
        )
        now = datetime.now(UTC)
        events = [
            pb.WebEvent(
                domain=domains[i % companies],
                type=("pricing_page_view", "docs_view", "demo_request")[i % 3],
                occurred_time_text=(now - timedelta(minutes=i)).isoformat(),
                url=f"https://example.com/p/{i % 7}",
            )
            for i in range(1000)
        ]
        await measure(
            "RecordEvents (1,000 per call)",
            max(10, calls // 25),
            4,
            lambda n: intent.RecordEvents(
                pb.RecordEventsRequest(account_id="acct", events=events), timeout=30
            ),
            unit=len(events),
        )
        await measure(
            "GetSignals (known, with events)",
            calls,
            concurrency,
            lambda n: intent.GetSignals(
                pb.GetSignalsRequest(account_id="acct", company_domain=domains[n % companies]), timeout=10
            ),
        )


async def main_async(args: argparse.Namespace, store_uri: str) -> None:
    port = free_port(SITE)
    site = await serve_site(port)
    address = f"127.0.0.1:{free_port()}"
    overrides = {f"company{n}.com": f"http://{SITE}:{port}/site/{n}" for n in range(args.companies)}
    env = {
        **os.environ,
        "LEADMESH_MONGODB_URI": store_uri,
        "LEADMESH_INTENT_ADDR": address,
        "LEADMESH_LOG_LEVEL": "ERROR",
        "LEADMESH_INTENT_WORKER": "false",
        "LEADMESH_SCORING_ADDR": "127.0.0.1:9",
        "LEADMESH_INTENT_ALLOWED_NETWORKS": json.dumps([f"{SITE}/32"]),
        "LEADMESH_INTENT_GREENHOUSE_BASE_URL": f"http://{SITE}:{port}/greenhouse",
        "LEADMESH_INTENT_LEVER_BASE_URL": f"http://{SITE}:{port}/lever",
        "LEADMESH_INTENT_HOMEPAGE_OVERRIDES": json.dumps(overrides),
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.intent", env=env, stderr=subprocess.DEVNULL
    )
    try:
        await run(address, args.companies, args.calls, args.concurrency)
    finally:
        server.terminate()
        await server.wait()
        site.close()
        await site.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(Path(tmp), free_port()) as store:
        asyncio.run(main_async(args, store.uri))


if __name__ == "__main__":
    main()
