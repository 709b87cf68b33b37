"""A CSV job's company domains are known at upload: their intent fetches start then, before any
worker enriches a chunk (here no worker runs at all)."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from tests.services.batch.test_csv_jobs import auth, batch_settings
from tests.services.enrichment.mesh import running_mesh
from tests.waiting import eventually

ROWS = (
    "First Name,Email,Company\r\n"
    "Mike,mike.chen@techflow.io,TechFlow\r\n"
    "Ana,ana@techflow.io,TechFlow\r\n"
    "Jo,jo@gmail.com,\r\n"
)


async def test_the_companies_of_an_upload_are_fetched_before_any_chunk_is_enriched(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    settings = batch_settings(batch_chunk_rows=2)
    async with running_mesh(db, amqp_url, batch=settings, batch_worker=False, csv_sync_max_rows=0) as mesh:
        web = mesh.servers["web"]
        _, key = await mesh.new_account(credits=100)
        response = await mesh.http.post(
            "/v1/enrich/csv",
            files={"file": ("leads.csv", ROWS.encode(), "text/csv")},
            headers=auth(key),
            timeout=30,
        )
        assert response.status_code == 202, response.text

        async def fetched() -> bool:
            return await db["intent_companies"].find_one({"_id": "techflow.io", "technology.status": "ok"})

        await eventually(fetched, within=15)
        assert web.hits_of("/sites/techflow/") == 1  # once for the company's two rows
        assert await db["intent_companies"].find_one({"_id": "gmail.com"}) is None  # a mailbox provider
        job = await mesh.http.get(f"/v1/jobs/{response.json()['job_id']}", headers=auth(key))
        assert job.json()["counts"]["enriched"] == 0  # no chunk was enriched
