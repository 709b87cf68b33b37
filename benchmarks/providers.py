"""Providers throughput: LookupBatch against a directory of 100,000 people.

    .venv/bin/python benchmarks/providers.py [--people 100000] [--leads 10000] [--rounds 3]

Starts its own embedded store and `python -m services.providers` on free ports, bulk-inserts the
deterministic demo directory (services.providers.demo), then sends LookupBatch calls of mixed
leads (a third emails, a third name + company name, a third company domains; a few unknown)
and prints lookups/s. Also prints how fast libs.normalize reads 100,000 job titles.
Goal on 2 cores: at least 5,000 lookups/s from the directory.

Every round is a fresh batch of leads, asked with ``refresh`` (the directory is never cached,
and no lookup cache answers any round), so each round is the uncached figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import caller_channel, say, seed, wait_serving  # noqa: E402

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as pb_grpc
from libs.embedded_store import EmbeddedStore, free_port
from libs.mongo import Document
from libs.normalize import normalize_title
from services.providers.demo import DemoDirectory, demo_directory

SERVICE = "leadmesh.providers.v1.ProvidersService"


def mixed_leads(directory: DemoDirectory, count: int, rng: random.Random) -> list[common.LeadInput]:
    people: list[Document] = directory.people
    leads: list[common.LeadInput] = []
    for n in range(count):
        person = rng.choice(people)
        kind = n % 3
        if rng.random() < 0.03:
            leads.append(common.LeadInput(email=f"nobody{n}@unknown-{n}.example.com"))
        elif kind == 0:
            leads.append(common.LeadInput(email=person["email"].upper()))
        elif kind == 1:
            leads.append(common.LeadInput(full_name=person["full_name"], company_name=person["company_name"]))
        else:
            leads.append(common.LeadInput(company_domain=f"https://www.{person['company_domain']}/"))
    return leads


async def run(address: str, uri: str, people: int, count: int, rounds: int) -> None:
    options = [("grpc.max_receive_message_length", 256 * 1024 * 1024)]
    async with caller_channel(address, options=options) as channel:
        await wait_serving(channel, SERVICE)
        started = time.perf_counter()
        directory = await seed(uri, people, seed=7)
        say(
            f"directory: {len(directory.people)} people, {len(directory.companies)} companies "
            f"(generated and bulk-inserted in {time.perf_counter() - started:.1f}s)"
        )
        stub = pb_grpc.ProvidersServiceStub(channel)
        rng = random.Random(11)
        for round_number in range(1, rounds + 1):
            leads = mixed_leads(directory, count, rng)
            started = time.perf_counter()
            response = await stub.LookupBatch(
                pb.LookupBatchRequest(
                    account_id="bench", leads=leads, options=pb.LookupOptions(refresh=True)
                ),
                timeout=300,
            )
            elapsed = time.perf_counter() - started
            found = sum(1 for r in response.results if r.found)
            contacts = sum(len(r.contacts) for r in response.results)
            say(
                f"LookupBatch round {round_number}: {count} leads in {elapsed:.2f}s"
                f" = {count / elapsed:,.0f} lookups/s"
                f"   ({found} found, {contacts} contacts returned)"
            )
        chunk = 1000
        leads = mixed_leads(directory, count, rng)
        started = time.perf_counter()
        await asyncio.gather(
            *(
                stub.LookupBatch(pb.LookupBatchRequest(leads=leads[i : i + chunk]), timeout=300)
                for i in range(0, count, chunk)
            )
        )
        elapsed = time.perf_counter() - started
        say(f"LookupBatch x{count // chunk} of {chunk}, concurrent: {count / elapsed:,.0f} lookups/s")
        single = [stub.Lookup(pb.LookupRequest(lead=lead), timeout=30) for lead in leads[:300]]
        started = time.perf_counter()
        for call in single:
            await call
        say(f"Lookup one at a time: {300 / (time.perf_counter() - started):,.0f} lookups/s")


def titles_per_second() -> None:
    directory = demo_directory(seed=3, companies=200, people=2000)
    raw = [str(p["raw_title"]) for p in directory.people]
    rng = random.Random(5)
    variants = ["", "Senior ", "Global ", "Interim ", "Lead "]
    suffixes = ["", ", EMEA", " - Remote", " | Advisor", " at Acme", ", North America", " (Contract)"]
    titles = [rng.choice(variants) + rng.choice(raw) + rng.choice(suffixes) for _ in range(100_000)]
    normalize_title.cache_clear()
    started = time.perf_counter()
    for title in titles:
        normalize_title(title)
    elapsed = time.perf_counter() - started
    say(f"normalize_title: 100,000 titles ({len(set(titles))} distinct) in {elapsed:.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    titles_per_second()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(Path(tmp), free_port()) as store:
        address = f"127.0.0.1:{free_port()}"
        env = {**os.environ, "LEADMESH_MONGODB_URI": store.uri, "LEADMESH_PROVIDERS_ADDR": address}
        env["LEADMESH_LOG_LEVEL"] = "WARNING"
        server = subprocess.Popen(
            [sys.executable, "-m", "services.providers"], env=env, stderr=subprocess.DEVNULL
        )
        try:
            asyncio.run(run(address, store.uri, args.people, args.leads, args.rounds))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
