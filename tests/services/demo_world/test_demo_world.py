"""The demo world against the real verifier and the real intent code: every email verdict kind
comes out of it, and so do hiring and technology signals; it answers for nothing but `.example`."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import dns.asyncresolver
import dns.resolver
import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from services.demo_world import VERDICT_KINDS, DemoWorld
from services.intent.app import create_signals
from services.intent.domain.signals import Category
from services.intent.settings import IntentSettings
from services.providers.demo import DemoDirectory, demo_directory
from services.verifier.app import build_verifier
from services.verifier.domain import VerifyOptions
from services.verifier.settings import VerifierSettings
from tests import grpc_callers


@pytest.fixture(scope="module")
def directory() -> DemoDirectory:
    return demo_directory(seed=4242, companies=40, people=400)


@pytest_asyncio.fixture
async def world(directory: DemoDirectory, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DemoWorld]:
    """The world started, and its settings in the environment the way `leadmesh up --demo` gives
    them to the services."""
    started = await DemoWorld(directory).start()
    for name in [name for name in os.environ if name.startswith("LEADMESH_")]:
        monkeypatch.delenv(name)
    for name, value in (started.service_env() | grpc_callers.caller_env()).items():
        monkeypatch.setenv(name, value)
    yield started
    await started.stop()


async def test_every_verdict_kind_comes_out_of_the_real_verifier(
    world: DemoWorld, db: AsyncDatabase[Document]
) -> None:
    settings = VerifierSettings(verifier_helo_name="verifier.demo.example")
    verifier = await build_verifier(db, settings)
    try:
        examples = world.examples
        assert set(examples) == set(VERDICT_KINDS)
        verdicts = {
            kind: await verifier.verify(address, VerifyOptions()) for kind, address in examples.items()
        }
    finally:
        await verifier.close()
    assert {kind: verdict.status.value for kind, verdict in verdicts.items()} == {k: k for k in VERDICT_KINDS}
    assert verdicts["invalid"].smtp_code == 550
    assert verdicts["risky"].mailbox_full
    assert verdicts["unknown"].retry_after  # greylisted: worth asking again later
    assert all(verdict.smtp_checked for verdict in verdicts.values())
    # A company whose domain lapsed has no DNS at all.
    lapsed = next(
        str(p["email"]) for p in world.directory.people if str(p["company_domain"]) in world.plan.lapsed
    )
    verifier = await build_verifier(db, settings)
    try:
        gone = await verifier.verify(lapsed, VerifyOptions())
    finally:
        await verifier.close()
    assert gone.status.value == "invalid" and "does not exist" in gone.reason


async def test_hiring_and_technology_signals_come_out_of_the_real_intent_code(
    world: DemoWorld, db: AsyncDatabase[Document]
) -> None:
    settings = IntentSettings(scoring_addr="127.0.0.1:9", intent_scoring_timeout=0.2)
    signals, closers = await create_signals(db, settings)
    try:
        views = await signals.companies("acct_demo", sorted(world.hiring), frozenset(), time_left=10.0)
    finally:
        for close in reversed(closers):
            await close()
    names = {view.domain: {s.signal.name for s in view.signals} for view in views}
    categories = {s.signal.category for view in views for s in view.signals}
    assert categories >= {Category.HIRING, Category.TECHNOLOGY}
    assert all(any(n.startswith("hiring_") for n in found) for found in names.values()), names
    everything = set().union(*names.values())
    assert {"hiring_sales", "adopted_hubspot", "adopted_salesforce"} <= everything
    assert all(view.refresh_time is not None and not view.pending for view in views)


async def test_it_answers_for_the_demo_domains_only(world: DemoWorld) -> None:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [world.dns.host]
    resolver.port = world.dns.port
    company = next(iter(world.hiring))
    mx = await resolver.resolve(company, "MX")
    assert [str(record.exchange) for record in mx] == ["mx.mail.example."]
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("nowhere.example", "MX")
    with pytest.raises(dns.resolver.NoNameservers):  # REFUSED: not the Internet's DNS
        await resolver.resolve("gmail.com", "MX")
    assert all(domain.endswith(".example") for domain in world.plan.domains)
    env = world.service_env()
    urls = [
        *json.loads(env["LEADMESH_INTENT_HOMEPAGE_OVERRIDES"]).values(),
        env["LEADMESH_INTENT_GREENHOUSE_BASE_URL"],
        env["LEADMESH_INTENT_LEVER_BASE_URL"],
    ]
    assert all(url.startswith(f"http://{world.host}:") for url in urls)
    assert json.loads(env["LEADMESH_INTENT_ALLOWED_NETWORKS"]) == [f"{world.host}/32"]
