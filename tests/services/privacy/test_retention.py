"""Retention (LEADMESH_RECORD_RETENTION_DAYS): the services' periodic purge deletes enrichment
records and CSV jobs' rows and results past it, and the API answers 410 Gone for them, while a
record that never existed stays a 404 and a purged job keeps its counts and credits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.ids import random_base62
from libs.mongo import Document
from tests.services.batch.test_csv_jobs import auth, batch_settings, upload
from tests.services.enrichment.mesh import Mesh, running_mesh
from tests.waiting import eventually

PURGE_EVERY = {"record_purge_interval": 0.2}


@pytest_asyncio.fixture
async def mesh(db: AsyncDatabase[Document], amqp_url: str) -> AsyncIterator[Mesh]:
    async with running_mesh(
        db,
        amqp_url,
        batch=batch_settings(**PURGE_EVERY),
        enrichment_settings=PURGE_EVERY,
        csv_sync_max_rows=1000,
    ) as running:
        yield running


def made_days_ago(days: float) -> str:
    return f"ev_{int((time.time() - days * 86_400) * 1000):012x}{random_base62(10)}"


async def test_an_enrichment_past_retention_is_purged_and_gone(
    mesh: Mesh, db: AsyncDatabase[Document]
) -> None:
    account, key = await mesh.new_account(credits=10)
    old_id = made_days_ago(91)
    record = pb.EnrichmentRecord(id=old_id, account_id=account, state=pb.EnrichmentRecord.STATE_NOT_FOUND)
    await db["enrichment_records"].insert_one(
        {
            "_id": f"{account}:old-request",
            "record_id": old_id,
            "account_id": account,
            "request_id": "old-request",
            "fingerprint": "x",
            "record": record.SerializeToString(),
            "create_time": datetime.now(UTC) - timedelta(days=91),
        }
    )
    fresh = await mesh.http.post("/v1/enrich/lead", json={"email": "ana@techflow.io"}, headers=auth(key))
    fresh_id = fresh.json()["id"]

    async def purged() -> bool:
        return await db["enrichment_records"].count_documents({"record_id": old_id}) == 0

    await eventually(purged, within=10)
    gone = await mesh.http.get(f"/v1/enrichments/{old_id}", headers=auth(key))
    assert gone.status_code == 410, gone.text
    assert gone.json()["error"]["type"] == "gone"
    assert (await mesh.http.get(f"/v1/enrichments/{fresh_id}", headers=auth(key))).status_code == 200
    unknown = await mesh.http.get(f"/v1/enrichments/{made_days_ago(1)}", headers=auth(key))
    assert unknown.status_code == 404, unknown.text
    never = await mesh.http.get("/v1/enrichments/ev_0000000000000000000000", headers=auth(key))
    assert never.status_code == 404, never.text


async def test_a_csv_job_past_retention_loses_its_rows_and_result_but_keeps_its_counts(
    mesh: Mesh, db: AsyncDatabase[Document]
) -> None:
    _, key = await mesh.new_account(credits=10)
    answer = await upload(mesh, key, "email\nana@techflow.io\nnobody@nowhere-at-all.io\n")
    assert answer.status_code == 200, answer.text
    job = (await db["batch_jobs"].find({}).to_list(None))[0]
    job_id = job["_id"]
    assert (await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))).status_code == 200
    before = (await mesh.http.get(f"/v1/jobs/{job_id}", headers=auth(key))).json()
    # Made 91 days ago (a whole document: the embedded store keeps a date set by $set as text).
    job = await db["batch_jobs"].find_one({"_id": job_id})
    await db["batch_jobs"].delete_one({"_id": job_id})
    await db["batch_jobs"].insert_one({**job, "create_time": datetime.now(UTC) - timedelta(days=91)})

    async def purged() -> bool:
        rows = await db["batch_rows"].count_documents({"_id": {"$gt": f"{job_id}:", "$lt": f"{job_id};"}})
        results = await db["batch_results"].count_documents(
            {"_id": {"$gt": f"{job_id}:", "$lt": f"{job_id};"}}
        )
        return rows == 0 and results == 0

    await eventually(purged, within=10)
    gone = await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))
    assert gone.status_code == 410, gone.text
    after = (await mesh.http.get(f"/v1/jobs/{job_id}", headers=auth(key))).json()
    assert after["credits_used"] == before["credits_used"] == 1
    assert after["total_rows"] == before["total_rows"] == 2
