"""POST /v1/enrich/lead and GET /v1/enrichments/{id} end to end: the gateway in front of every
service of the mesh (embedded store, RabbitMQ for intent, loopback DNS, SMTP and HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as enrichment_pb
from libs.mongo import Document
from tests.services.enrichment.mesh import Mesh, running_mesh

LEAD_KEYS = {
    "email", "email_status", "first_name", "last_name", "title", "seniority", "company_name",
    "company_domain", "company_size", "company_industry", "company_revenue", "phone", "linkedin_url",
    "icp_score", "icp_tier", "icp_signals", "icp_breakdown", "intent_signals", "intent_signal_details",
}  # fmt: skip
META_KEYS = {
    "credits_used", "providers_queried", "providers_matched", "confidence", "enriched_at",
    "icp_profile_version", "degraded", "not_found_reason", "pending", "demo",
}  # fmt: skip


@pytest_asyncio.fixture
async def mesh(db: AsyncDatabase[Document], amqp_url: str) -> AsyncIterator[Mesh]:
    async with running_mesh(db, amqp_url) as running:
        yield running


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def enrich(mesh: Mesh, key: str, body: Any, **headers: str) -> Any:
    return await mesh.http.post("/v1/enrich/lead", json=body, headers=auth(key, **headers))


async def test_email_lead_is_enriched_scored_charged_and_stored(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    response = await enrich(mesh, key, {"email": "Mike.Chen@techflow.io"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"].startswith("ev_") and body["status"] == "completed"
    lead = body["lead"]
    assert set(lead) == LEAD_KEYS
    assert lead["email"] == "mike.chen@techflow.io"
    assert lead["email_status"] == "valid"
    assert (lead["first_name"], lead["last_name"]) == ("Mike", "Chen")
    assert lead["seniority"] == "director"
    assert lead["company_domain"] == "techflow.io"
    assert lead["company_size"] == "51-200"
    assert lead["company_revenue"] == "$10M-$25M"
    assert lead["phone"] is None  # not asked for
    assert isinstance(lead["icp_score"], int) and 0 <= lead["icp_score"] <= 100
    assert lead["icp_tier"] in {"high_priority", "nurture", "deprioritize"}
    assert all(isinstance(name, str) for name in lead["icp_signals"]) and lead["icp_signals"]
    assert [s["name"] for s in lead["icp_breakdown"]] == lead["icp_signals"]
    assert all(isinstance(name, str) for name in lead["intent_signals"]) and lead["intent_signals"], body
    assert [s["name"] for s in lead["intent_signal_details"]] == lead["intent_signals"]
    assert all(s["observed_at"].endswith("Z") and s["source"] for s in lead["intent_signal_details"])
    meta = body["meta"]
    assert set(meta) == META_KEYS and meta["degraded"] == [] and meta["demo"] is False
    assert meta["credits_used"] == 1 and meta["providers_matched"] >= 1 and 0 < meta["confidence"] <= 1
    assert meta["enriched_at"].endswith("Z") and meta["icp_profile_version"] >= 1
    assert response.headers["X-Credits-Remaining"] == "9"
    assert await mesh.balance(account) == 9
    assert all(
        h in response.headers for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
    )

    stored = await mesh.http.get(f"/v1/enrichments/{body['id']}", headers=auth(key))
    assert stored.status_code == 200
    assert stored.json() == body
    assert stored.headers["X-Credits-Remaining"] == "9"
    _, other_key = await mesh.new_account()
    foreign = await mesh.http.get(f"/v1/enrichments/{body['id']}", headers=auth(other_key))
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "ENRICHMENT_NOT_FOUND"


async def test_name_and_company_lead(mesh: Mesh) -> None:
    _, key = await mesh.new_account()
    response = await enrich(mesh, key, {"first_name": "Lena", "last_name": "Berg", "company": "TechFlow"})
    assert response.status_code == 200, response.text
    lead = response.json()["lead"]
    assert lead["email"] == "lena@techflow.io" and lead["seniority"] == "vp"
    assert lead["email_status"] == "valid"


async def test_full_name_and_company_domain_lead(mesh: Mesh) -> None:
    _, key = await mesh.new_account()
    response = await enrich(mesh, key, {"name": "Ana Lopez", "company_domain": "techflow.io"})
    assert response.status_code == 200, response.text
    assert response.json()["lead"]["email"] == "ana@techflow.io"


async def test_linkedin_url_lead(mesh: Mesh) -> None:
    _, key = await mesh.new_account()
    response = await enrich(mesh, key, {"linkedin_url": "https://www.linkedin.com/in/priyanair"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert (body["lead"]["first_name"], body["lead"]["company_name"]) == ("Priya", "Initech")
    assert body["lead"]["email"] is None and body["lead"]["email_status"] is None


async def test_company_only_lead_answers_best_fit_contacts_ranked_by_icp(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=5)
    response = await enrich(mesh, key, {"domain": "techflow.io"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lead"]["company_name"] and body["lead"]["company_domain"] == "techflow.io"
    contacts = body["contacts"]
    assert len(contacts) == 5
    assert all(set(c) == LEAD_KEYS and c["email"].endswith("@techflow.io") for c in contacts)
    scores = [c["icp_score"] for c in contacts]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert body["meta"]["credits_used"] == 1 and await mesh.balance(account) == 4


async def test_not_found_costs_nothing(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=3)
    response = await enrich(mesh, key, {"email": "nobody@unknown-corp.com"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "not_found"
    assert set(body["lead"]) == LEAD_KEYS, "every field, null when unknown"
    assert all(value in (None, []) for value in body["lead"].values()), body["lead"]
    assert body["meta"]["credits_used"] == 0
    assert response.headers["X-Credits-Remaining"] == "3" and await mesh.balance(account) == 3


async def test_an_unknown_company_answers_an_empty_contact_list(mesh: Mesh) -> None:
    """Whether a lead is company-only is enrichment's call, carried in the record (stored too)."""
    _, key = await mesh.new_account(credits=3)
    response = await enrich(mesh, key, {"company": "unknown-corp.com"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "not_found" and body["contacts"] == []
    stored = await mesh.http.get(f"/v1/enrichments/{body['id']}", headers=auth(key))
    assert stored.json()["contacts"] == []
    person = (await enrich(mesh, key, {"email": "nobody@unknown-corp.com"})).json()
    assert person["status"] == "not_found" and "contacts" not in person


async def test_phone_costs_eleven_credits(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=20)
    response = await enrich(mesh, key, {"email": "mike.chen@techflow.io", "fields": ["person", "phone"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lead"]["phone"] == "+16505550173"
    assert body["meta"]["credits_used"] == 11
    assert response.headers["X-Credits-Remaining"] == "9" and await mesh.balance(account) == 9


async def test_retry_with_idempotency_key_returns_first_answer_and_charges_once(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    body = {"email": "ana@techflow.io"}
    first = await enrich(mesh, key, body, **{"Idempotency-Key": "retry-1"})
    again = await enrich(mesh, key, {"email": "ANA@techflow.io "}, **{"Idempotency-Key": "retry-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["X-Credits-Remaining"] == "9" and await mesh.balance(account) == 9
    # X-Request-Id is for tracing: the same one twice is two requests, charged twice.
    one = await enrich(mesh, key, body, **{"X-Request-Id": "trace-1"})
    two = await enrich(mesh, key, body, **{"X-Request-Id": "trace-1"})
    assert one.json()["id"] != two.json()["id"]
    assert await mesh.balance(account) == 7


async def test_a_retried_call_with_a_new_request_id_is_charged_once(mesh: Mesh) -> None:
    """The gateway makes an id up for a request without Idempotency-Key (``new_request_id``: no
    replay lookup first). Should the same call still arrive twice (a transport retry), the
    second is answered with the first record and charged nothing."""
    account, _ = await mesh.new_account(credits=10)
    request = enrichment_pb.EnrichLeadRequest(
        account_id=account,
        request_id="req_made_up_once",
        lead=common.LeadInput(email="ana@techflow.io"),
        new_request_id=True,
    )
    first = await mesh.enrichment.EnrichLead(request, timeout=10)
    again = await mesh.enrichment.EnrichLead(request, timeout=10)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.record == first.record
    assert first.credits_remaining == again.credits_remaining == 9
    assert await mesh.balance(account) == 9


async def test_same_idempotency_key_with_another_body_is_409(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    first = await enrich(mesh, key, {"email": "ana@techflow.io"}, **{"Idempotency-Key": "k-2"})
    assert first.status_code == 200
    other = await enrich(mesh, key, {"email": "tom@techflow.io"}, **{"Idempotency-Key": "k-2"})
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await mesh.balance(account) == 9


async def race(mesh: Mesh, key: str, bodies: list[dict[str, Any]]) -> tuple[Any, Any, dict[str, Any]]:
    """Sends the bodies at once with one Idempotency-Key: (the 200, the other answer, its body)."""
    responses = await asyncio.gather(*(enrich(mesh, key, b, **{"Idempotency-Key": "race-1"}) for b in bodies))
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    won = 0 if responses[0].status_code == 200 else 1
    return responses[won], responses[1 - won], bodies[won]


async def test_racing_bodies_with_one_idempotency_key_one_wins_the_other_is_409(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    bodies = [{"email": "mike.chen@techflow.io"}, {"email": "ana@techflow.io"}]
    won, lost, body = await race(mesh, key, bodies)
    assert won.json()["lead"]["email"] == body["email"]
    assert lost.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await mesh.balance(account) == 9
    for retry in bodies:  # afterwards the winner's body replays its record, the other's stays a 409
        again = await enrich(mesh, key, retry, **{"Idempotency-Key": "race-1"})
        if retry is body:
            assert again.status_code == 200 and again.json() == won.json()
        else:
            assert again.status_code == 409 and again.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await mesh.balance(account) == 9


async def test_racing_bodies_of_different_prices_charge_the_winners_price_once(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=20)
    bodies = [{"email": "mike.chen@techflow.io"}, {"email": "mike.chen@techflow.io", "fields": ["phone"]}]
    won, lost, _ = await race(mesh, key, bodies)
    assert lost.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await mesh.balance(account) == 20 - won.json()["meta"]["credits_used"]


async def test_insufficient_credits_is_402_and_charges_nothing(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=5)
    response = await enrich(mesh, key, {"email": "mike.chen@techflow.io", "fields": ["phone"]})
    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "INSUFFICIENT_CREDITS"
    assert response.headers["X-Credits-Remaining"] == "5"
    assert response.headers["X-Credits-Required"] == "11", "a 402 says how many credits the lead needs"
    assert await mesh.balance(account) == 5
    # Enough for a lead without phone.
    assert (await enrich(mesh, key, {"email": "mike.chen@techflow.io"})).status_code == 200
    assert await mesh.balance(account) == 4


async def test_bad_input_names_the_field_and_charges_nothing(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=5)
    malformed = await mesh.http.post(
        "/v1/enrich/lead", content=b"{not json", headers=auth(key, **{"Content-Type": "application/json"})
    )
    assert malformed.status_code == 422
    cases: list[tuple[Any, int, str]] = [
        ({}, 400, "identifier"),
        ({"first_name": "Mike", "last_name": "Chen"}, 400, "company"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"email": "a" * 400 + "@techflow.io"}, 422, "email"),
        ({"email": "mike.chen@techflow.io", "fields": ["phone", "horoscope"]}, 422, "fields"),
    ]
    for body, status, field in cases:
        response = await enrich(mesh, key, body)
        assert response.status_code == status, (body, response.text)
        assert field in response.json()["error"]["message"], response.text
    assert await mesh.balance(account) == 5


async def test_unauthenticated_requests_are_401(mesh: Mesh) -> None:
    response = await mesh.http.post("/v1/enrich/lead", json={"email": "ana@techflow.io"})
    assert response.status_code == 401
