"""Scoring throughput: ScoreBatch of many leads over gRPC against one ICP profile.

    .venv/bin/python benchmarks/scoring.py [--leads 100000] [--batch 10000] [--concurrency 2]

Starts its own embedded store and `python -m services.scoring` on free ports, stores a profile
like the issue's example, builds `--leads` varied leads (a third with intent signals), then sends
them in ScoreBatch calls of `--batch` leads, `--concurrency` at a time, and prints leads/s
(request serialisation, transfer, scoring and the response included) and the tier mix.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp
from harness import caller_channel, wait_serving  # noqa: E402

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as pb_grpc
from libs.embedded_store import EmbeddedStore, free_port

SERVICE = "leadmesh.scoring.v1.ScoringService"
MAX_MESSAGE = 64 * 1024 * 1024
TITLES = [
    "Director of Revenue Operations",
    "VP Sales",
    "Head of Sales Operations",
    "Chief Executive Officer",
    "Account Executive",
    "Senior Software Engineer",
    "Marketing Manager",
    "RevOps Lead",
    "Sales Intern",
    "Founder & CEO",
    "Customer Success Manager",
    "Director, Sales Operations",
    "Student Ambassador",
    "VP of International Sales",
    "Demand Generation Specialist",
    "Chief Revenue Officer",
]
INDUSTRIES = ["SaaS", "Fintech", "Education", "Healthcare", "E-commerce", "Manufacturing", "saas"]
COUNTRIES = ["US", "GB", "DE", "FR", "CA", "IN", "AU", ""]
TECHNOLOGIES = ["salesforce", "hubspot", "outreach", "marketo", "zendesk", "slack", "snowflake"]
INTENTS = [
    ("hiring_sales_ops", common.INTENT_CATEGORY_HIRING, ["Sales Operations Manager"]),
    ("evaluated_competitor", common.INTENT_CATEGORY_TECHNOLOGY, ["outreach.io script"]),
    ("pricing_page_view", common.INTENT_CATEGORY_ENGAGEMENT, []),
]


def example_profile() -> pb.IcpProfile:
    return pb.IcpProfile(
        seniorities=pb.SeniorityCriterion(values=[common.SENIORITY_VP, common.SENIORITY_DIRECTOR], weight=30),
        departments=pb.DepartmentCriterion(
            values=[common.DEPARTMENT_SALES, common.DEPARTMENT_REVENUE_OPERATIONS], weight=20
        ),
        title_keywords=pb.KeywordCriterion(values=["revops", "sales operations"], weight=10),
        company_sizes=pb.CompanySizeCriterion(
            values=[common.COMPANY_SIZE_51_200, common.COMPANY_SIZE_201_500], weight=15
        ),
        industries=pb.KeywordCriterion(values=["SaaS"], weight=15),
        revenues=pb.RevenueCriterion(
            values=[common.REVENUE_RANGE_10M_25M, common.REVENUE_RANGE_25M_50M], weight=5
        ),
        countries=pb.KeywordCriterion(values=["US", "GB"], weight=5),
        technologies=pb.KeywordCriterion(values=["salesforce"], weight=0),
        competitors=["outreach", "salesloft"],
        exclusions=pb.IcpExclusions(industries=["Education"], title_keywords=["intern", "student"]),
        tiers=pb.IcpTiers(high_priority=80, nurture=50),
        intent_boost_max=15,
    )


def make_subject(rng: random.Random, now: float) -> pb.ScoringSubject:
    person = common.Person(
        title=rng.choice(TITLES),
        seniority=rng.randrange(0, 9),
        department=rng.randrange(0, 13),
        country=rng.choice(COUNTRIES),
    )
    company = common.Company(
        name=f"Company {rng.randrange(10_000)}",
        domain=f"company{rng.randrange(10_000)}.com",
        size=rng.randrange(0, 9),
        employee_count=rng.randrange(0, 20_000),
        industry=rng.choice(INDUSTRIES),
        revenue=rng.randrange(0, 10),
        country=rng.choice(COUNTRIES),
        technologies=rng.sample(TECHNOLOGIES, rng.randrange(0, 4)),
    )
    subject = pb.ScoringSubject(person=person, company=company)
    if rng.random() < 1 / 3:
        for name, category, evidence in rng.sample(INTENTS, rng.randrange(1, 3)):
            observed = Timestamp()
            observed.FromSeconds(int(now - rng.randrange(0, 90 * 86_400)))
            subject.intent_signals.add(
                name=name,
                category=category,
                base_strength=rng.randrange(20, 100),
                strength=50,
                observed_time=observed,
                evidence=evidence,
            )
    return subject


async def run(leads: int, batch: int, concurrency: int, address: str) -> None:
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
    ]
    async with caller_channel(address, options=options) as channel:
        await wait_serving(channel, SERVICE)
        scoring = pb_grpc.ScoringServiceStub(channel)
        updated = await scoring.UpdateIcpProfile(
            pb.UpdateIcpProfileRequest(account_id="acct_bench", profile=example_profile()), timeout=10
        )
        version = updated.profile.version
        rng = random.Random(5)
        now = time.time()
        subjects = [make_subject(rng, now) for _ in range(leads)]
        requests = [
            pb.ScoreBatchRequest(account_id="acct_bench", subjects=subjects[start : start + batch])
            for start in range(0, leads, batch)
        ]
        size = sum(request.ByteSize() for request in requests)
        await scoring.ScoreBatch(requests[0], timeout=60)  # warm-up: channel, caches

        latencies: list[float] = []
        responses: list[pb.ScoreBatchResponse] = []
        pending = iter(requests)

        async def worker() -> None:
            for request in pending:
                started = time.perf_counter()
                responses.append(await scoring.ScoreBatch(request, timeout=120))
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started

        scored = sum(len(response.scores) for response in responses)
        assert scored == leads and all(r.profile_version == version for r in responses)
        tiers = collections.Counter(
            common.IcpTier.Name(score.tier) for response in responses for score in response.scores
        )
        mean = statistics.fmean(score.score for response in responses for score in response.scores)
        print(  # noqa: T201
            f"ScoreBatch: {scored} leads in {len(requests)} calls of <= {batch} ({concurrency} concurrent), "
            f"{size / 1e6:.1f} MB of requests\n"
            f"  {elapsed:.2f} s, {scored / elapsed:,.0f} leads/s, "
            f"call p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms\n"
            f"  profile version {version}, mean score {mean:.1f}, tiers {dict(sorted(tiers.items()))}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStore(Path(tmp), free_port()) as store:
        address = f"127.0.0.1:{free_port()}"
        env = {**os.environ, "LEADMESH_MONGODB_URI": store.uri, "LEADMESH_SCORING_ADDR": address}
        env["LEADMESH_LOG_LEVEL"] = "WARNING"
        server = subprocess.Popen(
            [sys.executable, "-m", "services.scoring"], env=env, stderr=subprocess.DEVNULL
        )
        try:
            asyncio.run(run(args.leads, args.batch, args.concurrency, address))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
