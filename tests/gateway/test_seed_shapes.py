"""The answers of POST /v1/enrich/lead and POST /v1/enrich/csv_row against the seed's own examples
(the contract callers' code is written against): every key the seed has is there, with the seed's
type, in a found answer and in a not_found one (null then); the documented models hold every
answer; and the demo label in meta and /healthz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from gateway.records import CsvRowAnswer, LeadAnswer
from libs.mongo import Document
from tests.services.enrichment.mesh import Mesh, running_mesh

# The seed's examples, as its reference gives them.
SEED_LEAD_ANSWER: dict[str, Any] = {
    "id": "ev_l4m8np2",
    "status": "completed",
    "lead": {
        "email": "mike.chen@techflow.io",
        "email_status": "valid",
        "first_name": "Mike",
        "last_name": "Chen",
        "title": "Director of Revenue Operations",
        "seniority": "director",
        "company_name": "TechFlow",
        "company_domain": "techflow.io",
        "company_size": "51-200",
        "company_industry": "SaaS",
        "company_revenue": "$10M-$25M",
        "icp_score": 87,
        "icp_signals": ["target_seniority", "target_department", "company_size_fit", "industry_match"],
        "intent_signals": ["hiring_sales_ops", "evaluated_competitor"],
    },
    "meta": {
        "credits_used": 11,
        "providers_queried": 15,
        "providers_matched": 6,
        "confidence": 0.92,
        "enriched_at": "2026-04-15T09:18:44Z",
    },
}
SEED_CSV_ROW_ANSWER: dict[str, Any] = {
    "id": "ev_b8v2mn6",
    "status": "completed",
    "csv_row": {
        "row_id": 1,
        "input_email": "alex@startup.io",
        "input_name": "Alex Rivera",
        "enriched_email_status": "valid",
        "enriched_title": "CTO",
        "enriched_seniority": "c_level",
        "enriched_company": "Startup.io",
        "enriched_industry": "SaaS",
        "enriched_size": "11-50",
        "enriched_phone": "+1-650-555-0173",
        "enriched_linkedin": "https://linkedin.com/in/alexrivera",
        "icp_score": 72,
    },
    "meta": {
        "credits_used": 11,
        "providers_queried": 15,
        "providers_matched": 5,
        "confidence": 0.88,
        "row_number": 1,
        "total_rows": 500,
    },
}
SEED_EMAIL_STATUSES = ["valid", "invalid", "risky", "catch-all", "disposable", "role-based", "unknown"]
ALL_FIELDS = ["person", "company", "email", "phone", "linkedin"]


def assert_seed_shape(seed: Any, answer: Any, where: str = "", nulls: bool = False) -> None:
    """Every key of ``seed`` is in ``answer`` with the seed's JSON type (or null, with ``nulls``)."""
    if nulls and answer is None and not isinstance(seed, dict | list):
        return
    assert type(answer) is type(seed), f"{where}: {answer!r} is not a {type(seed).__name__} like {seed!r}"
    if isinstance(seed, dict):
        for key, value in seed.items():
            assert key in answer, f"{where}.{key} is missing"
            assert_seed_shape(value, answer[key], f"{where}.{key}", nulls)
    elif isinstance(seed, list):
        for n, item in enumerate(answer):
            assert_seed_shape(seed[0], item, f"{where}[{n}]", nulls)


@pytest_asyncio.fixture
async def mesh(db: AsyncDatabase[Document], amqp_url: str) -> AsyncIterator[Mesh]:
    async with running_mesh(db, amqp_url) as running:
        yield running


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def post(mesh: Mesh, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await mesh.http.post(path, json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_lead_answer_has_the_seeds_shape_found_or_not(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=100)
    found = await post(mesh, key, "/v1/enrich/lead", {"email": "mike.chen@techflow.io", "fields": ALL_FIELDS})
    assert found["status"] == "completed"
    assert_seed_shape(SEED_LEAD_ANSWER, found)  # every field known here: none is null
    assert found["lead"]["intent_signals"] and found["lead"]["icp_signals"]
    assert found["meta"]["credits_used"] == 11 and found["meta"]["demo"] is False
    LeadAnswer.model_validate(found)
    stored = await mesh.http.get(f"/v1/enrichments/{found['id']}", headers=auth(key))
    assert stored.json() == found

    # The seed's own request: nobody we know, every field present and null.
    missing = await post(mesh, key, "/v1/enrich/lead", {"email": "jane@acme.com"})
    assert missing["status"] == "not_found"
    assert_seed_shape(SEED_LEAD_ANSWER, missing, nulls=True)
    assert missing["lead"]["email"] is None and missing["lead"]["intent_signals"] == []
    LeadAnswer.model_validate(missing)

    company = await post(mesh, key, "/v1/enrich/lead", {"domain": "techflow.io", "max_contacts": 2})
    assert_seed_shape(SEED_LEAD_ANSWER, company, nulls=True)
    for contact in company["contacts"]:
        assert_seed_shape(SEED_LEAD_ANSWER["lead"], contact, "contacts", nulls=True)
    LeadAnswer.model_validate(company)
    health = await mesh.http.get("/healthz")
    assert health.status_code == 200 and health.json()["demo"] is False, health.text


async def test_the_seeds_enum_spellings_are_the_documented_ones(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=100)
    spec = (await mesh.http.get("/openapi.json")).json()["components"]["schemas"]
    assert spec["Lead"]["properties"]["email_status"]["enum"] == [*SEED_EMAIL_STATUSES, None]
    assert "c_level" in spec["Seniority"]["enum"] and "51-200" in spec["CompanySize"]["enum"]
    catch_all = await post(mesh, key, "/v1/enrich/lead", {"email": "john.smith@globex.com"})
    assert catch_all["lead"]["email_status"] == "catch-all"


async def test_a_csv_row_answer_has_the_seeds_shape_and_row_id_is_the_row_number(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=100)
    body = {"email": "mike.chen@techflow.io", "name": "Mike Chen", "fields": ALL_FIELDS}
    found = await post(mesh, key, "/v1/enrich/csv_row", body)
    assert_seed_shape(SEED_CSV_ROW_ANSWER, found)
    assert found["csv_row"]["row_id"] == 1 and found["csv_row"]["row_ref"] is None
    assert (found["meta"]["row_number"], found["meta"]["total_rows"]) == (1, 1)
    assert found["meta"]["demo"] is False
    CsvRowAnswer.model_validate(found)

    row = {"email": "jane@acme.com", "row_number": 42, "total_rows": 500, "row_ref": "crm-0042"}
    missing = await post(mesh, key, "/v1/enrich/csv_row", row)
    assert missing["status"] == "not_found"
    assert_seed_shape(SEED_CSV_ROW_ANSWER, missing, nulls=True)
    assert (missing["csv_row"]["row_id"], missing["csv_row"]["row_ref"]) == (42, "crm-0042")
    assert missing["csv_row"]["input_email"] == "jane@acme.com"
    assert (missing["meta"]["row_number"], missing["meta"]["total_rows"]) == (42, 500)
    CsvRowAnswer.model_validate(missing)

    for wrong, said in [
        ({"email": "jane@acme.com", "row_id": "r-17"}, "row_number"),
        ({"email": "jane@acme.com", "row_number": 3, "total_rows": 2}, "total_rows"),
    ]:
        refused = await mesh.http.post("/v1/enrich/csv_row", json=wrong, headers=auth(key))
        assert refused.status_code == 422, refused.text
        assert said in refused.json()["error"]["message"]


async def test_demo_mode_labels_every_answer_and_healthz(db: AsyncDatabase[Document], amqp_url: str) -> None:
    async with running_mesh(db, amqp_url, demo=True) as mesh:
        _, key = await mesh.new_account(credits=100)
        lead = await post(mesh, key, "/v1/enrich/lead", {"email": "mike.chen@techflow.io"})
        missing = await post(mesh, key, "/v1/enrich/lead", {"email": "jane@acme.com"})
        row = await post(mesh, key, "/v1/enrich/csv_row", {"email": "mike.chen@techflow.io"})
        stored = (await mesh.http.get(f"/v1/enrichments/{lead['id']}", headers=auth(key))).json()
        assert [a["meta"]["demo"] for a in (lead, missing, row, stored)] == [True] * 4
        health = await mesh.http.get("/healthz")
        assert health.status_code == 200 and health.json()["demo"] is True
