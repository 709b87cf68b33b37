"""/v1/suppressions end to end: an account's do-not-enrich list is honoured by single leads, CSV
rows and a company's contacts, for that account only, free of charge, and kept as hashes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from libs.privacy import mentions
from tests.services.batch.test_csv_jobs import auth, batch_settings, parse, upload
from tests.services.enrichment.mesh import Mesh, running_mesh

MIKE = "mike.chen@techflow.io"


@pytest_asyncio.fixture
async def mesh(db: AsyncDatabase[Document], amqp_url: str) -> AsyncIterator[Mesh]:
    async with running_mesh(db, amqp_url, batch=batch_settings(), csv_sync_max_rows=1000) as running:
        yield running


async def suppress(mesh: Mesh, key: str, **body: Any) -> Any:
    return await mesh.http.post("/v1/suppressions", json=body, headers=auth(key))


async def enrich(mesh: Mesh, key: str, **lead: str) -> dict[str, Any]:
    answer = await mesh.http.post("/v1/enrich/lead", json=lead, headers=auth(key))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_suppressed_address_is_not_enriched_for_its_account_only_and_free(
    mesh: Mesh, db: AsyncDatabase[Document]
) -> None:
    account, key = await mesh.new_account(credits=100)
    other, other_key = await mesh.new_account(credits=100)
    added = await suppress(mesh, key, emails=["Mike.Chen@TechFlow.io"])
    assert added.status_code == 201, added.text
    assert added.json()["added"] == 1
    assert (
        added.json()["data"][0]["type"] == "email" and added.json()["data"][0]["value"] == "***@techflow.io"
    )

    before = await mesh.balance(account)
    body = await enrich(mesh, key, email=MIKE)
    assert body["status"] == "not_found" and body["meta"]["not_found_reason"] == "suppressed"
    assert body["meta"]["credits_used"] == 0 and body["lead"]["email"] is None
    assert await mesh.balance(account) == before
    theirs = await enrich(mesh, other_key, email=MIKE)
    assert theirs["status"] == "completed" and theirs["meta"]["not_found_reason"] is None
    assert await mesh.balance(other) == 99

    # A CSV row of the account: not_found, not charged; the other row is.
    answer = await upload(mesh, key, f"email\n{MIKE}\nana@techflow.io\n")
    assert answer.status_code == 200, answer.text
    rows = parse(answer.text)
    status = rows[0].index("status")
    assert [row[status] for row in rows[1:]] == ["not_found", "enriched"]
    assert await mesh.balance(account) == before - 1

    # Only a keyed hash is stored, never the address.
    stored = await db["providers_suppressions"].find({}).to_list(None)
    assert stored and not mentions(stored, ("mike.chen",))

    # Suppressing it again adds nothing; deleting it enriches it again.
    again = await suppress(mesh, key, emails=[MIKE])
    assert again.json()["added"] == 0 and again.json()["data"][0]["id"] == added.json()["data"][0]["id"]
    suppression_id = added.json()["data"][0]["id"]
    refused = await mesh.http.delete(f"/v1/suppressions/{suppression_id}", headers=auth(other_key))
    assert refused.status_code == 404, refused.text
    deleted = await mesh.http.delete(f"/v1/suppressions/{suppression_id}", headers=auth(key))
    assert deleted.status_code == 200 and deleted.json() == {"id": suppression_id, "deleted": True}
    assert (await enrich(mesh, key, email=MIKE))["status"] == "completed"


async def test_a_suppressed_domain_hides_the_company_and_its_people(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=100)
    _, other_key = await mesh.new_account(credits=100)
    assert (await suppress(mesh, key, domains=["https://www.TechFlow.io/about"])).status_code == 201
    for lead in ({"email": "ana@techflow.io"}, {"company_domain": "techflow.io"}):
        body = await enrich(mesh, key, **lead)
        assert body["status"] == "not_found" and body["meta"]["not_found_reason"] == "suppressed", body
    assert (await enrich(mesh, other_key, company_domain="techflow.io"))["status"] == "completed"


async def test_a_suppressed_person_is_left_out_of_a_companys_contacts(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=100)
    shown = await mesh.http.post("/v1/enrich/lead", json={"company_domain": "techflow.io"}, headers=auth(key))
    assert "ana@techflow.io" in shown.text
    assert (await suppress(mesh, key, emails=["ana@techflow.io"])).status_code == 201
    body = await enrich(mesh, key, company_domain="techflow.io")
    assert body["status"] == "completed"
    emails = [contact["email"] for contact in body["contacts"]]
    assert "ana@techflow.io" not in emails and MIKE in emails


async def test_the_list_is_paged_newest_first_and_private_to_the_account(mesh: Mesh) -> None:
    _, key = await mesh.new_account()
    _, other_key = await mesh.new_account()
    await suppress(mesh, key, emails=["a@one.com"])
    await suppress(mesh, key, emails=["b@two.com"], domains=["three.com"])
    first = await mesh.http.get("/v1/suppressions", params={"page_size": 2}, headers=auth(key))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [s["value"] for s in page["data"]] == ["three.com", "***@two.com"]
    rest = await mesh.http.get(
        "/v1/suppressions", params={"page_token": page["next_page_token"]}, headers=auth(key)
    )
    assert [s["value"] for s in rest.json()["data"]] == ["***@one.com"]
    assert rest.json()["next_page_token"] is None
    theirs = await mesh.http.get("/v1/suppressions", headers=auth(other_key))
    assert theirs.json() == {"data": [], "next_page_token": None}


async def test_bad_requests_are_precise_and_store_nothing(mesh: Mesh, db: AsyncDatabase[Document]) -> None:
    _, key = await mesh.new_account()
    cases = [
        ({"emails": ["ok@acme.com", "not an address"]}, 400, "emails[1]"),
        ({"domains": ["no spaces.com"]}, 400, "domains[0]"),
        ({}, 400, None),
    ]
    for body, status, field in cases:
        answer = await suppress(mesh, key, **body)
        assert answer.status_code == status, (body, answer.text)
        if field:
            assert field in answer.text
    assert await db["providers_suppressions"].count_documents({}) == 0
    unknown = await suppress(mesh, key, email=["x@acme.com"])
    assert unknown.status_code == 422, unknown.text
    assert (await mesh.http.post("/v1/suppressions", json={"emails": ["a@b.com"]})).status_code == 401
    missing = await mesh.http.delete("/v1/suppressions/sup_0000000000000000", headers=auth(key))
    assert missing.status_code == 404
    malformed = await mesh.http.delete("/v1/suppressions/not-an-id", headers=auth(key))
    assert malformed.status_code == 422
