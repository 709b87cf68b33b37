"""A slow or stopped service of the pipeline degrades the answer, never fails it; the rate limit;
the CSV-row shape; EnrichBatch over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.mongo import Document
from tests.services.enrichment.mesh import Mesh, running_mesh


@pytest_asyncio.fixture
async def mesh(db: AsyncDatabase[Document], amqp_url: str) -> AsyncIterator[Mesh]:
    async with running_mesh(db, amqp_url, enrich_rate_per_second=0.5, enrich_rate_burst=4) as running:
        yield running


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("service", ["verifier", "intent", "scoring"])
async def test_stopped_service_degrades_the_answer(mesh: Mesh, service: str) -> None:
    account, key = await mesh.new_account(credits=5)
    await mesh.stop(service)
    response = await mesh.http.post(
        "/v1/enrich/lead", json={"email": "mike.chen@techflow.io"}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    lead, meta = body["lead"], body["meta"]
    assert body["status"] == "completed" and lead["title"] and lead["company_name"] == "TechFlow"
    assert {"component": service, "reason": "UNAVAILABLE"} in meta["degraded"]
    if service == "verifier":
        assert lead["email_status"] == "unknown"
    if service == "intent":
        assert lead["intent_signals"] == lead["intent_signal_details"] == []
    if service == "scoring":
        assert lead["icp_score"] is None and lead["icp_signals"] == lead["icp_breakdown"] == []
    assert meta["confidence"] < 1
    assert meta["credits_used"] == 1 and await mesh.balance(account) == 4


async def test_rate_limit_answers_429_with_retry_after(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=10)
    statuses = []
    for _ in range(5):
        response = await mesh.http.post(
            "/v1/enrich/lead", json={"email": "nobody@x-corp.com"}, headers=auth(key)
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 200, 429]
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] == "4" and response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) >= 1
    # Another key has its own bucket.
    _, other = await mesh.new_account()
    assert (
        await mesh.http.post("/v1/enrich/lead", json={"email": "nobody@x-corp.com"}, headers=auth(other))
    ).status_code == 200


async def test_csv_row_shape(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=5)
    response = await mesh.http.post(
        "/v1/enrich/csv_row",
        json={
            "name": "Lena Berg",
            "company": "techflow.io",
            "row_number": 17,
            "total_rows": 20,
            "row_ref": "r-17",
        },
        headers=auth(key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"].startswith("ev_") and body["status"] == "completed"
    row = body["csv_row"]
    assert (row["row_id"], row["row_ref"]) == (17, "r-17")
    assert row["input_name"] == "Lena Berg" and row["input_email"] is None
    assert row["enriched_email_status"] == "valid" and row["enriched_seniority"] == "vp"
    assert row["enriched_company"] == "TechFlow" and row["enriched_size"] == "51-200"
    assert isinstance(row["icp_score"], int)
    assert set(row) == {
        "row_id", "row_ref", "input_email", "input_name", "enriched_email_status", "enriched_title",
        "enriched_seniority", "enriched_company", "enriched_industry", "enriched_size", "enriched_phone",
        "enriched_linkedin", "icp_score",
    }  # fmt: skip
    meta = body["meta"]
    assert (meta["credits_used"], meta["row_number"], meta["total_rows"]) == (1, 17, 20)
    assert response.headers["X-Credits-Remaining"] == "4" and await mesh.balance(account) == 4


async def test_enrich_batch_over_grpc(mesh: Mesh) -> None:
    account, _ = await mesh.new_account(credits=10)
    items = [
        pb.EnrichBatchItem(
            index=7, lead=common.LeadInput(email="mike.chen@techflow.io"), charge_key="job:1:row:1"
        ),
        pb.EnrichBatchItem(
            index=8, lead=common.LeadInput(email="nobody@x-corp.com"), charge_key="job:1:row:2"
        ),
        pb.EnrichBatchItem(
            index=9,
            lead=common.LeadInput(full_name="Lena Berg", company_domain="techflow.io"),
            charge_key="job:1:row:3",
        ),
    ]
    request = pb.EnrichBatchRequest(account_id=account, items=items)
    first = await mesh.enrichment.EnrichBatch(request, timeout=10)
    states = {r.index: r.record.state for r in first.results}
    assert states == {
        7: pb.EnrichmentRecord.STATE_COMPLETED,
        8: pb.EnrichmentRecord.STATE_NOT_FOUND,
        9: pb.EnrichmentRecord.STATE_COMPLETED,
    }
    by_index = {r.index: r.record for r in first.results}
    assert by_index[7].lead.email_verdict.status == common.EMAIL_STATUS_VALID
    assert by_index[9].lead.icp.score > 0
    assert await mesh.balance(account) == 8
    again = await mesh.enrichment.EnrichBatch(request, timeout=10)
    assert [r.record.id for r in again.results] == [r.record.id for r in first.results]
    assert await mesh.balance(account) == 8


async def test_enrich_batch_without_storing_keeps_nothing_and_charges_nothing_when_asked(mesh: Mesh) -> None:
    """What a CSV job's worker asks for: the records back, none stored, no charge."""
    account, _ = await mesh.new_account(credits=10)
    items = [
        pb.EnrichBatchItem(
            index=1, lead=common.LeadInput(email="mike.chen@techflow.io"), charge_key="job:2:row:1"
        )
    ]
    request = pb.EnrichBatchRequest(account_id=account, items=items, skip_charge=True, skip_store=True)
    first = await mesh.enrichment.EnrichBatch(request, timeout=10)
    [result] = first.results
    assert result.record.state == pb.EnrichmentRecord.STATE_COMPLETED
    assert result.record.meta.credits_used == 1  # the price, for the caller to charge
    assert await mesh.balance(account) == 10
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await mesh.enrichment.GetEnrichment(
            pb.GetEnrichmentRequest(account_id=account, id=result.record.id), timeout=10
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    again = await mesh.enrichment.EnrichBatch(request, timeout=10)
    assert again.results[0].record.id != result.record.id  # nothing stored to replay


async def test_a_batch_gives_its_stages_more_time_than_one_lead(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    """With a verifier cap no call can meet, one lead is degraded; a batch of two gets two more
    seconds per extra lead and is verified."""
    slow = {"enrichment_verifier_timeout": 0.001, "enrichment_batch_seconds_per_lead": 2.0}
    async with running_mesh(db, amqp_url, enrichment_settings=slow) as mesh:
        account, key = await mesh.new_account(credits=10)
        single = await mesh.http.post(
            "/v1/enrich/lead",
            json={"email": "mike.chen@techflow.io"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert single.status_code == 200, single.text
        assert single.json()["lead"]["email_status"] == "unknown"
        assert "verifier" in {d["component"] for d in single.json()["meta"]["degraded"]}
        items = [
            pb.EnrichBatchItem(index=n, lead=common.LeadInput(email=email), charge_key=f"job:3:row:{n}")
            for n, email in enumerate(["mike.chen@techflow.io", "ana@techflow.io"])
        ]
        batch = await mesh.enrichment.EnrichBatch(
            pb.EnrichBatchRequest(account_id=account, items=items), timeout=30
        )
        for result in batch.results:
            assert result.record.lead.email_verdict.status == common.EMAIL_STATUS_VALID
            assert not result.record.meta.degradations
