"""Billing throughput: Authenticate and Charge over gRPC against the embedded store.

    .venv/bin/python benchmarks/billing.py [--charges 5000] [--concurrency 32]

Starts its own embedded store and `python -m services.billing` on free ports, then prints
requests/s and p50/p99 latency for Authenticate (the gateway's per-request call), Charge with
distinct keys (one account, contended), and Charge retries of an existing key (replays).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from harness import caller_channel, wait_serving  # noqa: E402

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.embedded_store import EmbeddedStore, free_port


async def measure(name: str, total: int, concurrency: int, call: Callable[[int], Awaitable[object]]) -> None:
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
    rate, p50, p99 = total / elapsed, cuts[49] * 1000, cuts[98] * 1000
    print(  # noqa: T201
        f"{name:24} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
        f"   ({total} calls, {concurrency} concurrent)"
    )


async def run(charges: int, concurrency: int, address: str) -> None:
    async with caller_channel(address) as channel:
        await wait_serving(channel)
        billing = pb_grpc.BillingServiceStub(channel)
        created = await billing.CreateAccount(
            pb.CreateAccountRequest(name="bench", initial_credits=10 * charges, create_api_key=True)
        )
        account_id, key = created.account.account_id, created.api_key_secret
        await measure(
            "Authenticate",
            charges,
            concurrency,
            lambda n: billing.Authenticate(pb.AuthenticateRequest(api_key=key)),
        )
        await measure(
            "Charge (new keys)",
            charges,
            concurrency,
            lambda n: billing.Charge(
                pb.ChargeRequest(account_id=account_id, idempotency_key=f"c{n}", amount=1)
            ),
        )
        await measure(
            "Charge (retried keys)",
            charges,
            concurrency,
            lambda n: billing.Charge(
                pb.ChargeRequest(account_id=account_id, idempotency_key=f"c{n}", amount=1)
            ),
        )
        balance = await billing.GetBalance(pb.GetBalanceRequest(account_id=account_id))
        expected = 10 * charges + 30 - charges
        print(f"balance after: {balance.balance} (expected {expected})")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--charges", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(Path(tmp), free_port()) as store:
        address = f"127.0.0.1:{free_port()}"
        env = {**os.environ, "LEADMESH_MONGODB_URI": store.uri, "LEADMESH_BILLING_ADDR": address}
        env["LEADMESH_LOG_LEVEL"] = "WARNING"
        server = subprocess.Popen(
            [sys.executable, "-m", "services.billing"], env=env, stderr=subprocess.DEVNULL
        )
        try:
            asyncio.run(run(args.charges, args.concurrency, address))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
