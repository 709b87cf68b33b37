"""CSV jobs end to end: POST /v1/enrich/csv through the gateway, enriched by batch workers.

    .venv/bin/python benchmarks/csv_job.py [--rows 10000 100000] [--workers 2] [--people 3000]
        [--mode instant|real-world|offline] [--launcher processes|up|both]

Starts the whole mesh over an embedded store seeded with the demo directory and the loopback
outside world of ``--mode`` (benchmarks/peers.py: mail, DNS, company websites and job boards
answering at once, as the real Internet does, or not at all), either as separate processes with
the batch server and ``--workers`` batch worker processes (``--launcher processes``), or as a
user runs it, ``leadmesh up`` with its one batch worker (``--launcher up``); ``both`` runs one then
the other. For each size it uploads a CSV of badge-scanner shape (First Name, Last
Name, Work Email, Company, Notes): 85% known emails, 5% unknown ones, 5% name + company only, 5%
without any identifier; then polls GET /v1/jobs/{id} until the job ends and streams
GET /v1/jobs/{id}/result.csv to its last byte. It prints the wall time from the first byte of the
upload to the last byte of the result, rows/s, the outcome counts, how long the job's calls waited
on each stage (providers, verifier, intent, scoring, billing), and the peak RSS (VmHWM) of every
process so far. Goals on 2 cores: 10,000 rows in <= 12 s, 100,000 in <= 2 min, every
process < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proto"))

import httpx  # noqa: E402
from harness import (  # noqa: E402
    MODES,
    Mesh,
    caller_channel,
    method,
    peak_rss_mb,
    running_mesh,
    say,
    stage_lines,
)

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb  # noqa: E402
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc  # noqa: E402

SERVICES = ("billing", "providers", "verifier", "scoring", "intent", "enrichment", "batch")
TERMINAL = {"succeeded", "failed", "cancelled"}


def badge_scan(mesh: Mesh, rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    people = [p for p in mesh.directory.people if p.get("email")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["First Name", "Last Name", "Work Email", "Company", "Notes"])
    for n in range(rows):
        person = rng.choice(people)
        first, last, company = person["first_name"], person["last_name"], person["company_name"]
        kind = n % 20
        if kind == 0:  # unknown to every provider
            writer.writerow([first, last, f"visitor{n}@unknown-{n}.example", "", "booth"])
        elif kind == 1:  # no email: name + company
            writer.writerow([first, last, "", company, "met at the booth, call back"])
        elif kind == 2:  # nothing to look up
            writer.writerow(["", "", "", "", "scanned twice"])
        else:
            writer.writerow([first, last, person["email"], company, "demo, Q3"])
    return out.getvalue().encode()


async def run_job(http: httpx.AsyncClient, body: bytes, rows: int) -> None:
    began = time.perf_counter()
    response = await http.post("/v1/enrich/csv", content=body, headers={"Content-Type": "text/csv"})
    if response.status_code != 202:
        raise RuntimeError(f"upload answered {response.status_code}: {response.text[:500]}")
    job_id = response.json()["job_id"]
    uploaded = time.perf_counter() - began
    polls: list[float] = []
    while True:
        asked = time.perf_counter()
        answer = await http.get(f"/v1/jobs/{job_id}")
        polls.append(time.perf_counter() - asked)
        if answer.status_code != 200:
            raise RuntimeError(f"GET /v1/jobs/{job_id} answered {answer.status_code}: {answer.text[:500]}")
        job = answer.json()
        if job["status"] in TERMINAL:
            break
        await asyncio.sleep(0.1)
    finished = time.perf_counter() - began
    pieces = []
    async with http.stream("GET", f"/v1/jobs/{job_id}/result.csv") as result:
        async for piece in result.aiter_bytes():
            pieces.append(piece)
    elapsed = time.perf_counter() - began
    body = b"".join(pieces)
    size = len(body)
    table = csv.DictReader(io.StringIO(body.decode()))
    verdicts = Counter(row["enriched_email_status"] or "-" for row in table if row["status"] == "enriched")
    say(
        f"{rows:>7} rows: {elapsed:6.1f} s upload-to-last-byte ({rows / elapsed:6.0f} rows/s); "
        f"upload {uploaded:.1f} s, job done at {finished:.1f} s, result {size / 1e6:.1f} MB"
    )
    say(f"         GET /v1/jobs/{{id}} while running: {len(polls)} polls, slowest {max(polls) * 1000:.0f} ms")
    say(f"         email status of enriched rows: {dict(verdicts.most_common())}")
    say(f"         job {job['status']}: {job['counts']}, credits used {job['credits_used']}")
    if job["status"] != "succeeded":
        raise RuntimeError(f"the job ended {job['status']}")


def report(mesh: Mesh, cpu_before: dict[str, float]) -> None:
    peaks = {name: peak_rss_mb(pid) for name, pid in mesh.pids().items()}
    say("         peak RSS (MB): " + ", ".join(f"{name} {mb:.0f}" for name, mb in peaks.items()))
    used = {name: spent - cpu_before.get(name, 0.0) for name, spent in mesh.cpu().items()}
    ranked = sorted(used.items(), key=lambda item: -item[1])
    say("         CPU s during the job: " + ", ".join(f"{name} {spent:.1f}" for name, spent in ranked))
    say(
        f"         benchmark process (client and loopback mail, DNS and web servers): "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
        f"CPU s during the job {_own_cpu() - cpu_before.get('benchmark', 0.0):.1f}"
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(args: argparse.Namespace, launcher: str) -> None:
    # Every size as a job (202, polled), as 10,000 rows and more always are.
    extra = {"LEADMESH_CSV_SYNC_MAX_ROWS": "0", **dict(setting.split("=", 1) for setting in args.env)}
    async with running_mesh(args.people, SERVICES, extra, args.mode, launcher) as mesh:
        workers = args.workers if launcher == "processes" else 1
        for n in range(args.workers if launcher == "processes" else 0):
            mesh.start(f"worker-{n + 1}", "-m", "services.batch", "worker")
        async with caller_channel(mesh.addresses["billing"]) as channel:
            created = await billing_grpc.BillingServiceStub(channel).CreateAccount(
                billing_pb.CreateAccountRequest(name="bench", initial_credits=10_000_000, create_api_key=True)
            )
        async with httpx.AsyncClient(
            base_url=f"http://{mesh.addresses['gateway']}",
            headers={"Authorization": f"Bearer {created.api_key_secret}"},
            timeout=httpx.Timeout(600.0),
        ) as http:
            how = "leadmesh up" if launcher == "up" else f"{len(SERVICES)} service processes"
            say(f"mesh up ({launcher}): {how}, gateway, {workers} batch workers")
            for seed, rows in enumerate(args.rows):
                body = badge_scan(mesh, rows, seed)
                waited = await mesh.stages.settle()
                before = {**mesh.cpu(), "benchmark": _own_cpu()}
                await run_job(http, body, rows)
                report(mesh, before)
                for line in stage_lines(mesh.stages.since(waited, await mesh.stages.settle())):
                    say(line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--mode", choices=MODES, default="instant", help="the outside world")
    parser.add_argument("--launcher", choices=["processes", "up", "both"], default="processes")
    parser.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE", help="extra settings")
    args = parser.parse_args()
    method(
        "csv_job.py",
        2,
        f"CSV upload to finished job through gateway, batch server and workers, outside world "
        f"{args.mode}; wall time, rows/s, wait per stage and peak memory per process",
    )
    for launcher in ("processes", "up") if args.launcher == "both" else (args.launcher,):
        asyncio.run(run(args, launcher))


if __name__ == "__main__":
    main()
