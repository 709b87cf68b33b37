"""Test keys (``lm_test_``) are a sandbox, end to end through the gateway and the whole mesh: free
(no charge, no reservation, never refused for the balance), answered from the sandbox directory
without contacting anything outside (the loopback vendor, DNS, mail and web servers the live
services use receive nothing), kept apart from live records and jobs, and labelled
``"livemode": false``; a live key of the same account is still charged and says ``true``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.intent.v1 import intent_service_pb2 as intent_pb
from libs.mongo import Document
from services.demo_world.sandbox import Sandbox, sandbox
from services.demo_world.sites import openings
from services.providers.config import parse_config
from tests.gateway.stack import Stack
from tests.services.batch.receiver import Receiver
from tests.services.batch.test_csv_jobs import batch_settings
from tests.services.enrichment.mesh import Mesh, running_mesh
from tests.services.providers.fake_vendors import FakeVendors, running_vendors, vendor_config
from tests.waiting import eventually


@pytest_asyncio.fixture
async def vendors() -> AsyncIterator[FakeVendors]:
    async with running_vendors() as fake:
        yield fake


@pytest_asyncio.fixture
async def mesh(db: AsyncDatabase[Document], amqp_url: str, vendors: FakeVendors) -> AsyncIterator[Mesh]:
    config = parse_config(
        json.dumps(vendor_config(vendors.url, order=["people_vendor", "finder"])),
        {"VENDOR_KEY": "secret-key"},
    )
    async with running_mesh(
        db, amqp_url, batch=batch_settings(), providers_config=config, csv_sync_max_rows=50
    ) as running:
        yield running


@pytest_asyncio.fixture
async def world() -> Sandbox:
    return await sandbox()


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def keys(mesh: Mesh, credits: int) -> tuple[str, str, str]:
    """(account, live key, test key) of a new account with ``credits``."""
    account, live = await mesh.new_account(credits=credits)
    created = await mesh.billing.CreateApiKey(
        billing_pb.CreateApiKeyRequest(account_id=account, mode=billing_pb.API_KEY_MODE_TEST, name="sandbox")
    )
    assert created.api_key_secret.startswith("lm_test_")
    return account, live, created.api_key_secret


def outbound(mesh: Mesh, vendors: FakeVendors) -> dict[str, int]:
    """What reached the servers standing in for the outside world."""
    return {
        "vendor calls": sum(len(calls) for calls in vendors.calls.values()),
        "dns queries": sum(mesh.servers["dns"].queries.values()),
        "smtp sessions": mesh.servers["mail"].sessions(),
        "web requests": len(mesh.servers["web"].hits),
    }


def employer(world: Sandbox, email: str) -> str:
    """The website of the company a sandbox address's person works for (a disposable address
    does not tell)."""
    return next(str(p["company_domain"]) for p in world.directory.people if p.get("email") == email)


def hiring_company(world: Sandbox) -> str:
    """A sandbox company that publishes openings (hiring signals) and whose domain resolves."""
    now = datetime.now(UTC)
    for company in world.directory.companies:
        domain = str(company["domain"])
        if domain not in world.plan.lapsed and openings(company, now)[1]:
            return domain
    raise AssertionError("the sandbox has no hiring company")


async def test_a_test_key_enriches_from_the_sandbox_for_free_without_going_outside(
    mesh: Mesh, vendors: FakeVendors, world: Sandbox
) -> None:
    account, live, test = await keys(mesh, credits=0)
    nothing = outbound(mesh, vendors)
    # Every verdict kind, each from its sandbox address; not refused for a zero balance.
    for kind, email in world.examples.items():
        lead_body = {"email": email, "company": employer(world, email)}
        response = await mesh.http.post("/v1/enrich/lead", json=lead_body, headers=auth(test))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["livemode"] is False and body["status"] == "completed", (email, body)
        lead = body["lead"]
        assert lead["email"] == email and lead["email_status"] == kind, (kind, lead)
        assert lead["first_name"] and lead["company_domain"].endswith(".example")
        assert isinstance(lead["icp_score"], int)
        assert body["meta"]["credits_used"] == 0 and response.headers["X-Credits-Remaining"] == "0"
    # A person of a company whose domain has lapsed: the address does not resolve.
    lapsed = next(
        e for p in world.directory.people if (e := str(p.get("email"))).split("@")[-1] in world.plan.lapsed
    )
    response = await mesh.http.post("/v1/enrich/lead", json={"email": lapsed}, headers=auth(test))
    assert response.json()["lead"]["email_status"] == "invalid", response.text
    # A company alone: its contacts, and the hiring signals its job board shows.
    domain = hiring_company(world)
    response = await mesh.http.post(
        "/v1/enrich/lead",
        json={"domain": domain, "fields": ["person", "company", "email", "phone"]},
        headers=auth(test),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["livemode"] is False and body["meta"]["credits_used"] == 0  # phone is free too
    assert body["contacts"] and all(c["company_domain"] == domain for c in body["contacts"]), body
    assert any(name.startswith("hiring_") for name in body["lead"]["intent_signals"]), body["lead"]
    # An address outside the sandbox is not looked up anywhere.
    response = await mesh.http.post(
        "/v1/enrich/csv_row", json={"email": "jane.doe@initech.com"}, headers=auth(test)
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "not_found" and response.json()["livemode"] is False
    assert outbound(mesh, vendors) == nothing == dict.fromkeys(nothing, 0)
    assert await mesh.balance(account) == 0
    credits = await mesh.http.get("/v1/credits", headers=auth(test))
    assert credits.json()["livemode"] is False and credits.json()["balance"] == 0
    assert [e["type"] for e in credits.json()["ledger"] if e["type"] != "credit"] == []

    # The live key of the same account is refused for its balance, and does go outside.
    live_lead = {"email": "mike.chen@techflow.io"}
    refused = await mesh.http.post("/v1/enrich/lead", json=live_lead, headers=auth(live))
    assert refused.status_code == 402, refused.text
    unknown = await mesh.http.post(
        "/v1/enrich/lead", json={"email": "jane.doe@initech.com"}, headers=auth(live)
    )
    assert unknown.status_code == 200 and unknown.json()["livemode"] is True
    assert outbound(mesh, vendors)["vendor calls"] > 0


async def test_live_and_test_records_are_apart_and_live_is_still_charged(
    mesh: Mesh, vendors: FakeVendors, world: Sandbox
) -> None:
    account, live, test = await keys(mesh, credits=5)
    sandboxed = await mesh.http.post(
        "/v1/enrich/lead",
        json={"email": world.examples["valid"]},
        headers=auth(test, **{"Idempotency-Key": "k1"}),
    )
    assert sandboxed.status_code == 200, sandboxed.text
    charged = await mesh.http.post(
        "/v1/enrich/lead",
        json={"email": "mike.chen@techflow.io"},
        headers=auth(live, **{"Idempotency-Key": "k1"}),
    )
    assert charged.status_code == 200, charged.text  # the same key in the other mode is another request
    assert charged.json()["livemode"] is True and charged.json()["meta"]["credits_used"] == 1
    assert charged.json()["lead"]["email_status"] == "valid"
    went_out = outbound(mesh, vendors)  # the live lead was verified over DNS and SMTP
    assert went_out["dns queries"] > 0 and went_out["smtp sessions"] > 0, went_out
    assert await mesh.balance(account) == 4
    test_id, live_id = sandboxed.json()["id"], charged.json()["id"]
    for record, own, other, mode in ((test_id, test, live, False), (live_id, live, test, True)):
        got = await mesh.http.get(f"/v1/enrichments/{record}", headers=auth(own))
        assert got.status_code == 200 and got.json()["livemode"] is mode
        hidden = await mesh.http.get(f"/v1/enrichments/{record}", headers=auth(other))
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "ENRICHMENT_NOT_FOUND"
    replay = await mesh.http.post(
        "/v1/enrich/lead",
        json={"email": world.examples["valid"]},
        headers=auth(test, **{"Idempotency-Key": "k1"}),
    )
    assert replay.json()["id"] == test_id and replay.headers.get("Idempotent-Replayed") == "true"
    ledger = (await mesh.http.get("/v1/credits", headers=auth(live))).json()
    assert ledger["livemode"] is True
    assert [e["amount"] for e in ledger["ledger"] if e["type"] == "charge"] == [-1]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_a_csv_job_with_a_test_key_is_free_and_kept_apart(
    mesh: Mesh, vendors: FakeVendors, world: Sandbox
) -> None:
    account, live, test = await keys(mesh, credits=0)
    examples = world.examples
    text = "email,company,notes\r\n"
    text += "".join(f"{examples[kind]},{employer(world, examples[kind])},{kind}\r\n" for kind in examples)
    text += "jane.doe@initech.com,initech.com,outside\r\n"
    nothing = outbound(mesh, vendors)
    receiver = Receiver()
    await receiver.start()
    try:
        response = await mesh.http.post(
            "/v1/enrich/csv",
            files={"file": ("sandbox.csv", text.encode(), "text/csv")},
            data={"webhook_url": receiver.url()},
            headers=auth(test),
        )
        await eventually(lambda: receiver.requests)
    finally:
        await receiver.stop()
    hook = json.loads(receiver.requests[0].body)  # the customer's own endpoint is told, as for a live job
    assert hook["livemode"] is False and hook["credits_used"] == 0 and hook["state"] == "succeeded"
    assert response.status_code == 200, response.text
    assert response.headers["X-Livemode"] == "false" and response.headers["X-Credits-Used"] == "0"
    got = rows(response.text)
    assert [(r["notes"], r["enriched_email_status"]) for r in got[:-1]] == [(k, k) for k in examples]
    assert got[-1]["status"] == "not_found"
    assert outbound(mesh, vendors) == nothing
    assert await mesh.balance(account) == 0
    job_id = response.headers["X-Job-Id"]
    job = await mesh.http.get(f"/v1/jobs/{job_id}", headers=auth(test))
    assert job.status_code == 200 and job.json()["livemode"] is False
    assert job.json()["credits_used"] == 0 and job.json()["credits_reserved"] == 0
    assert (await mesh.http.get(f"/v1/jobs/{job_id}", headers=auth(live))).status_code == 404
    assert (await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(live))).status_code == 404
    assert (await mesh.http.delete(f"/v1/jobs/{job_id}", headers=auth(live))).status_code == 404
    listed: dict[str, Any] = (await mesh.http.get("/v1/jobs", headers=auth(test))).json()
    assert listed["livemode"] is False and [j["id"] for j in listed["jobs"]] == [job_id]
    listed = (await mesh.http.get("/v1/jobs", headers=auth(live))).json()
    assert listed["livemode"] is True and listed["jobs"] == []
    # The same file with the live key needs credits it has not got.
    refused = await mesh.http.post(
        "/v1/enrich/csv", content=text.encode(), headers=auth(live, **{"Content-Type": "text/csv"})
    )
    assert refused.status_code == 402, refused.text


async def test_a_test_keys_web_events_are_checked_and_never_recorded(stack: Stack) -> None:
    account, live = await stack.new_account()
    created = await stack.billing.CreateApiKey(
        billing_pb.CreateApiKeyRequest(account_id=account, mode=billing_pb.API_KEY_MODE_TEST)
    )
    now = datetime.now(UTC).isoformat()
    events = [
        {"domain": "acme.com", "type": "pricing_page_view", "occurred_at": now},
        {"domain": "acme.com", "type": "hover"},
    ]
    for key, mode in ((created.api_key_secret, False), (live, True)):
        response = await stack.http.post(
            "/v1/signals/events", json={"events": events}, headers=auth(key, **{"Idempotency-Key": "e1"})
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["livemode"] is mode and body["accepted"] == 1
        assert [r["reason"] for r in body["rejected"]] == ["unknown_type"]
        got = await stack.intent.GetSignals(
            intent_pb.GetSignalsRequest(account_id=account, company_domain="acme.com"), timeout=5
        )
        # Only the live call feeds the account's signals (the test call came first).
        assert [s.name for s in got.company.signals] == (["pricing_page_view"] if mode else [])


async def test_the_account_answers_say_which_kind_of_key_asked(stack: Stack) -> None:
    account, live = await stack.new_account()
    created = await stack.billing.CreateApiKey(
        billing_pb.CreateApiKeyRequest(account_id=account, mode=billing_pb.API_KEY_MODE_TEST)
    )
    for key, mode in ((created.api_key_secret, False), (live, True)):
        for path in ("/v1/icp", "/v1/icp/versions", "/v1/credits"):
            response = await stack.http.get(path, headers=auth(key))
            assert response.status_code == 200 and response.json()["livemode"] is mode, (path, response.text)
