"""What one account may have under way through the whole mesh: uploads being received at once
(the gateway's cap), jobs queued or running (batch's), and uploads per key (their own budget);
and webhook_url never taken from the query string. Every refusal is a 429 with Retry-After and
the X-RateLimit-* headers, and creates, reserves and charges nothing."""

from __future__ import annotations

import asyncio

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from tests.services.batch.test_csv_jobs import auth, batch_settings, upload
from tests.services.enrichment.mesh import running_mesh
from tests.waiting import eventually

ONE_ROW = "email\nmike.chen@techflow.io\n"


def assert_limited(response: httpx.Response, code: str, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == code
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"


async def test_an_account_has_at_most_upload_max_concurrent_uploads_under_way(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    async with running_mesh(db, amqp_url, batch=batch_settings(), upload_max_concurrent=1) as mesh:
        account, key = await mesh.new_account(credits=50)
        _, other_key = await mesh.new_account(credits=50)
        # The first upload, by hand on its own connection: its headers and first line are on the
        # wire at once, the rest waits for the test.
        host, port = str(mesh.http.base_url.host), int(mesh.http.base_url.port or 80)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            (
                "POST /v1/enrich/csv HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
                "Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
                "6\r\nemail\n\r\n"
            ).encode()
        )
        await writer.drain()
        refused: list[httpx.Response] = []

        async def second_is_refused() -> bool:  # once the first is being received
            answer = await upload(mesh, key, ONE_ROW)
            if answer.status_code == 429:
                refused.append(answer)
            return bool(refused)

        await eventually(second_is_refused, within=10)
        assert_limited(refused[0], "TOO_MANY_UPLOADS", 1)
        # Another account is not held up.
        assert (await upload(mesh, other_key, ONE_ROW)).status_code == 200
        line = b"ana@techflow.io\n"
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(line), line))
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 60)
        writer.close()
        assert status.startswith(b"HTTP/1.1 200"), status
        assert (await upload(mesh, key, ONE_ROW)).status_code == 200  # the slot is free again
        assert await db["batch_jobs"].count_documents({"account_id": account}) == 2


async def test_an_account_has_at_most_batch_max_active_jobs_queued_or_running(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    async with running_mesh(
        db,
        amqp_url,
        batch=batch_settings(batch_max_active_jobs=1),
        batch_worker=False,  # jobs stay queued
        csv_sync_max_rows=0,
    ) as mesh:
        account, key = await mesh.new_account(credits=50)
        first = await upload(mesh, key, ONE_ROW)
        assert first.status_code == 202, first.text
        refused = await upload(mesh, key, "email\nana@techflow.io\n")
        assert_limited(refused, "TOO_MANY_JOBS", 1)
        assert await db["batch_jobs"].count_documents({"account_id": account}) == 1
        assert await mesh.balance(account) == 49  # the first job's hold only
        cancelled = await mesh.http.delete(f"/v1/jobs/{first.json()['job_id']}", headers=auth(key))
        assert cancelled.status_code == 200, cancelled.text
        assert (await upload(mesh, key, "email\nana@techflow.io\n")).status_code == 202


async def test_uploads_spend_their_own_budget_of_the_key(db: AsyncDatabase[Document], amqp_url: str) -> None:
    async with running_mesh(
        db, amqp_url, batch=batch_settings(), upload_rate_per_second=0.001, upload_rate_burst=1
    ) as mesh:
        _, key = await mesh.new_account(credits=50)
        first = await upload(mesh, key, ONE_ROW)
        assert first.status_code == 200, first.text
        assert first.headers["X-RateLimit-Limit"] == "1" and first.headers["X-RateLimit-Remaining"] == "0"
        assert_limited(await upload(mesh, key, "email\nana@techflow.io\n"), "RATE_LIMITED", 1)
        enriched = await mesh.http.post(
            "/v1/enrich/lead", json={"email": "ana@techflow.io"}, headers=auth(key)
        )
        assert enriched.status_code == 200, enriched.text  # enrichments have their own budget


async def test_a_webhook_url_in_the_query_string_is_refused_naming_it(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    async with running_mesh(db, amqp_url, batch=batch_settings()) as mesh:
        account, key = await mesh.new_account(credits=50)
        hook = "https://hooks.example.com/leadmesh?token=s3cret"
        for sent in (
            mesh.http.post(
                "/v1/enrich/csv",
                params={"webhook_url": hook},
                files={"file": ("leads.csv", ONE_ROW.encode(), "text/csv")},
                headers=auth(key),
            ),
            mesh.http.post(
                "/v1/enrich/csv",
                params={"webhook_url": hook},
                content=ONE_ROW,
                headers=auth(key, **{"Content-Type": "text/csv"}),
            ),
        ):
            response = await sent
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "WEBHOOK_URL_IN_QUERY"
            assert "webhook_url" in response.json()["error"]["message"]
            assert response.headers["X-Error-Field"] == "webhook_url"
        assert await db["batch_jobs"].count_documents({}) == 0
        assert await mesh.balance(account) == 50
        # In the form, or as X-Webhook-Url with a raw body, it is taken.
        raw = await mesh.http.post(
            "/v1/enrich/csv",
            content=ONE_ROW,
            headers=auth(key, **{"Content-Type": "text/csv", "X-Webhook-Url": hook}),
        )
        assert raw.status_code == 200, raw.text
        job = await mesh.http.get(f"/v1/jobs/{raw.headers['X-Job-Id']}", headers=auth(key))
        assert job.json()["webhook_url"] == hook
        form = await upload(mesh, key, ONE_ROW, params={"webhook_url": hook})
        assert form.status_code == 200, form.text
