"""POST /v1/enrich/csv and the jobs API end to end: the gateway in front of the whole mesh, the
batch server and a batch worker on the real broker, loopback mail servers and a webhook receiver."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from services.batch.csvfile import OUTPUT_COLUMNS
from services.batch.settings import BatchSettings
from services.batch.webhooks import verify
from tests.services.batch.receiver import Receiver
from tests.services.enrichment.mesh import Mesh, running_mesh
from tests.waiting import eventually

SMALL = (
    "Full Name,Work Email,Company,Notes\r\n"
    'Mike Chen,mike.chen@techflow.io,TechFlow,=HYPERLINK("http://evil")\r\n'
    "Nobody Known,nobody@unknown-example.org,Unknown Co,\r\n"
    ",,,just a note\r\n"
    'Ana,ana@techflow.io,TechFlow,"multi\nline, with comma"\r\n'
)


def batch_settings(**overrides: Any) -> BatchSettings:
    values: dict[str, Any] = {
        "shutdown_grace": 0.5,
        "batch_chunk_rows": 2,
        "batch_max_rows": 60,
        "batch_max_attempts": 2,
        "batch_webhook_allowed_networks": ["127.0.0.0/8"],
        "batch_webhook_allowed_ports": ["80", "443", "1024-65535"],  # and the test receivers' ports
        "batch_webhook_base_delay": 0.2,
        "webhook_secret": "csv-jobs-test-master-secret-0123456789",
        **overrides,
    }
    return BatchSettings(**values)


@pytest_asyncio.fixture
async def mesh(db: AsyncDatabase[Document], amqp_url: str) -> AsyncIterator[Mesh]:
    async with running_mesh(db, amqp_url, batch=batch_settings(), csv_sync_max_rows=8) as running:
        yield running


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def upload(
    mesh: Mesh, key: str, body: bytes | str, *, params: dict[str, str] | None = None, **headers: str
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return await mesh.http.post(
        "/v1/enrich/csv",
        files={"file": ("leads.csv", data, "text/csv")},
        data=params or {},
        headers=auth(key, **headers),
        timeout=60,
    )


async def wait_finished(mesh: Mesh, key: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    last: list[dict[str, Any]] = []

    async def finished() -> dict[str, Any] | None:
        got = await mesh.http.get(f"/v1/jobs/{job_id}", headers=auth(key))
        assert got.status_code == 200, got.text
        last[:] = [got.json()]
        return last[0] if last[0]["status"] in {"succeeded", "failed", "cancelled"} else None

    return await eventually(finished, within=timeout, interval=0.05, explain=lambda: last)


async def test_small_file_comes_back_enriched_in_order_with_matched_rows_charged(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    response = await upload(mesh, key, SMALL)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = parse(response.text)
    header = rows[0]
    assert header == ["Full Name", "Work Email", "Company", "Notes", *OUTPUT_COLUMNS]
    data = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [r["row_id"] for r in data] == ["1", "2", "3", "4"]
    assert [r["status"] for r in data] == ["enriched", "not_found", "invalid_input", "enriched"]
    mike = data[0]
    assert mike["Work Email"] == "mike.chen@techflow.io" and mike["enriched_email_status"] == "valid"
    assert mike["enriched_seniority"] == "director" and mike["enriched_domain"] == "techflow.io"
    assert mike["enriched_size"] == "51-200" and mike["icp_score"].isdigit() and mike["icp_tier"]
    assert mike["Notes"] == '\'=HYPERLINK("http://evil")'  # a formula comes back inert
    assert data[3]["Notes"] == "multi\nline, with comma"
    assert all(data[1][c] == "" for c in OUTPUT_COLUMNS[2:])  # not found: empty enrichment columns
    assert response.headers["X-Credits-Used"] == "2"
    assert await mesh.balance(account) == 8  # two matched rows; unmatched and invalid are free
    job = (await mesh.http.get(f"/v1/jobs/{response.headers['X-Job-Id']}", headers=auth(key))).json()
    assert job["status"] == "succeeded" and job["counts"] == {
        "enriched": 2, "not_found": 1, "invalid_input": 1, "failed": 0, "pending": 0,
    }  # fmt: skip
    assert job["mapping"] == {"full_name": "Full Name", "email": "Work Email", "company_name": "Company"}
    assert job["row_issues"] == [{"row": 3, "line": 4, "reason": job["row_issues"][0]["reason"]}]


async def test_messy_raw_csv_bom_crlf_blank_and_ragged_lines(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=10)
    text = (
        "\ufeffE-mail Address;x\r\n".replace(";x", ",First Name,Organization")
        + "\r\n"
        + "lena@techflow.io,Lena,TechFlow,extra cell\r\n"
        + "\r\n"
        + "tom@techflow.io\r\n"
    )
    response = await mesh.http.post(
        "/v1/enrich/csv",
        content=text.encode(),
        headers=auth(key, **{"Content-Type": "text/csv; charset=utf-8"}),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    rows = parse(response.text)
    assert rows[0][:4] == ["E-mail Address", "First Name", "Organization", "column_4"]
    assert rows[1][:4] == ["lena@techflow.io", "Lena", "TechFlow", "extra cell"]
    assert rows[2][:4] == ["tom@techflow.io", "", "", ""]
    assert [row[4:6] for row in rows[1:]] == [["1", "enriched"], ["2", "enriched"]]


async def test_latin1_file_is_refused_with_its_line_and_nothing_is_created(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    body = "email,name\nana@techflow.io,Ana\nx@techflow.io,Jos\xe9\n".encode("latin-1")
    response = await upload(mesh, key, body)
    assert response.status_code in (415, 422), response.text
    error = response.json()["error"]
    assert (
        error["code"] == "UNSUPPORTED_ENCODING"
        and "line 3" in error["message"]
        and "UTF-8" in error["message"]
    )
    listed = await mesh.http.get("/v1/jobs", headers=auth(key))
    assert listed.json()["jobs"] == []
    assert await mesh.balance(account) == 10


async def test_too_many_rows_is_413_and_too_few_credits_is_402_before_any_charge(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=3)
    many = "email\n" + "".join(f"user{n}@techflow.io\n" for n in range(61))
    response = await upload(mesh, key, many)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "TOO_MANY_ROWS"
    four = "email\n" + "".join(f"user{n}@techflow.io\n" for n in range(4))
    poor = await upload(mesh, key, four)
    assert poor.status_code == 402, poor.text
    assert poor.json()["error"]["code"] == "INSUFFICIENT_CREDITS"
    phone = await upload(mesh, key, "email\nana@techflow.io\n", params={"fields": "person,phone"})
    assert phone.status_code == 402  # 11 credits with phone
    assert (await mesh.http.get("/v1/jobs", headers=auth(key))).json()["jobs"] == []
    assert await mesh.balance(account) == 3


async def test_bad_options_are_precise_400s(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=3)
    unknown = await upload(mesh, key, SMALL, params={"fields": "person,shoe_size"})
    assert unknown.status_code == 400 and "shoe_size" in unknown.json()["error"]["message"]
    mapping = await upload(mesh, key, SMALL, params={"mapping": '{"email": "No Such Column"}'})
    assert mapping.status_code == 400 and "No Such Column" in mapping.json()["error"]["message"]
    wrong_type = await mesh.http.post(
        "/v1/enrich/csv", content=b"{}", headers=auth(key, **{"Content-Type": "application/json"})
    )
    assert wrong_type.status_code == 415


async def test_mapping_override_is_applied(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=5)
    text = "Contact,Alt\nnobody@unknown-example.org,mike.chen@techflow.io\n"
    response = await upload(mesh, key, text, params={"mapping": '{"email": "Alt", "full_name": null}'})
    assert response.status_code == 200, response.text
    rows = parse(response.text)
    assert rows[1][rows[0].index("status")] == "enriched"
    assert response.headers["X-Column-Mapping"] == '{"email": "Alt"}'


async def test_large_file_is_a_job_with_a_signed_webhook_and_is_private_to_its_account(mesh: Mesh) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        account, key = await mesh.new_account(credits=100)
        emails = [
            "mike.chen@techflow.io",
            "ana@techflow.io",
            "lena@techflow.io",
            "nobody@unknown-example.org",
        ]
        text = "email\n" + "".join(f"{emails[n % 4]}\n" for n in range(20))
        response = await upload(
            mesh, key, text, params={"webhook_url": receiver.url()}, **{"Idempotency-Key": "upload-1"}
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        assert response.headers["Location"] == f"/v1/jobs/{job_id}"
        again = await upload(
            mesh, key, text, params={"webhook_url": receiver.url()}, **{"Idempotency-Key": "upload-1"}
        )
        assert again.status_code == 202 and again.json()["job_id"] == job_id  # the same job, not a second one
        other_file = await upload(
            mesh,
            key,
            text + "ana@techflow.io\n",
            params={"webhook_url": receiver.url()},
            **{"Idempotency-Key": "upload-1"},
        )
        other_options = await upload(mesh, key, text, **{"Idempotency-Key": "upload-1"})
        for reused in (other_file, other_options):
            assert reused.status_code == 409, reused.text
            assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"

        done = await wait_finished(mesh, key, job_id)
        assert done["status"] == "succeeded" and done["counts"]["enriched"] == 15
        assert done["counts"]["not_found"] == 5 and done["credits_used"] == 15 and done["progress"] == 1.0
        assert await mesh.balance(account) == 85  # the reservation's unused credits came back

        result = await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))
        assert result.status_code == 200
        rows = parse(result.text)
        assert len(rows) == 21 and [r[0] for r in rows[1:]] == [emails[n % 4] for n in range(20)]

        await eventually(lambda: receiver.requests)
        assert len(receiver.requests) == 1
        hook = receiver.requests[0]
        secret = (await mesh.http.get("/v1/webhooks/secret", headers=auth(key))).json()["secret"]
        assert verify(secret, hook.headers["leadmesh-signature"], hook.body)
        _, other_key = await mesh.new_account(credits=5)
        other_secret = (await mesh.http.get("/v1/webhooks/secret", headers=auth(other_key))).json()["secret"]
        assert not verify(other_secret, hook.headers["leadmesh-signature"], hook.body)

        for method, path in [
            ("GET", f"/v1/jobs/{job_id}"),
            ("GET", f"/v1/jobs/{job_id}/result.csv"),
            ("DELETE", f"/v1/jobs/{job_id}"),
        ]:
            foreign = await mesh.http.request(method, path, headers=auth(other_key))
            assert foreign.status_code == 404, (method, path)
        assert (await mesh.http.get("/v1/jobs", headers=auth(other_key))).json()["jobs"] == []
        listed = (await mesh.http.get("/v1/jobs", headers=auth(key))).json()
        assert [job["id"] for job in listed["jobs"]] == [job_id]
    finally:
        await receiver.stop()


async def test_webhook_to_a_private_address_is_refused(
    db: AsyncDatabase[Document], amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.batch.webhooks")
    receiver = Receiver()
    await receiver.start()
    settings = batch_settings(batch_webhook_allowed_networks=[])
    try:
        async with running_mesh(db, amqp_url, batch=settings, csv_sync_max_rows=0) as mesh:
            _, key = await mesh.new_account(credits=10)
            response = await upload(
                mesh, key, "email\nana@techflow.io\n", params={"webhook_url": receiver.url()}
            )
            assert response.status_code == 202
            job_id = response.json()["job_id"]
            await wait_finished(mesh, key, job_id)
            await eventually(
                lambda: [
                    r
                    for r in caplog.records
                    if r.getMessage() == "webhook given up" and getattr(r, "job_id", None) == job_id
                ]
            )
            assert receiver.requests == []
    finally:
        await receiver.stop()


async def test_a_10000_row_file_is_a_job_by_default_billed_per_matched_row_with_a_signed_webhook(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    """At the default threshold (10,000 rows and more are jobs) and the default chunk size."""
    settings = batch_settings(batch_chunk_rows=BatchSettings().batch_chunk_rows, batch_max_rows=100_000)
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_mesh(db, amqp_url, batch=settings) as mesh:
            account, key = await mesh.new_account(credits=20_000)
            emails = ["mike.chen@techflow.io", "ana@techflow.io", "lena@techflow.io", "x@unknown-example.org"]
            text = "Work Email,Notes\r\n" + "".join(f"{emails[n % 4]},row {n}\r\n" for n in range(10_000))
            response = await upload(mesh, key, text, params={"webhook_url": receiver.url()})
            assert response.status_code == 202, response.text
            job_id = response.json()["job_id"]
            done = await wait_finished(mesh, key, job_id, timeout=600)
            assert done["status"] == "succeeded", done
            assert done["counts"] == {
                "enriched": 7_500,
                "not_found": 2_500,
                "invalid_input": 0,
                "failed": 0,
                "pending": 0,
            }
            assert done["credits_used"] == 7_500
            assert await mesh.balance(account) == 20_000 - 7_500
            result = await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key), timeout=120)
            rows = parse(result.text)
            assert len(rows) == 10_001
            assert [row[1] for row in rows[1:]] == [f"row {n}" for n in range(10_000)]
            assert {row[3] for row in rows[1::4]} == {"enriched"} and {row[3] for row in rows[4::4]} == {
                "not_found"
            }
            await eventually(lambda: receiver.requests)
            [hook] = receiver.requests
            secret = (await mesh.http.get("/v1/webhooks/secret", headers=auth(key))).json()["secret"]
            assert verify(secret, hook.headers["leadmesh-signature"], hook.body)
            payload = json.loads(hook.body)
            assert (payload["job_id"], payload["credits_used"]) == (job_id, 7_500)
    finally:
        await receiver.stop()


async def test_a_streamed_raw_upload_over_the_gateway_limit_is_413_and_creates_nothing(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    async with running_mesh(db, amqp_url, batch=batch_settings(), gateway_max_upload_bytes=4_000) as mesh:
        account, key = await mesh.new_account(credits=50)

        async def body() -> AsyncIterator[bytes]:
            yield b"email\n"
            for n in range(60):  # about 6 KB, in pieces and without a Content-Length
                yield f"person{n:03d}.with.a.long.name@techflow.io\n".encode() * 2

        response = await mesh.http.post(
            "/v1/enrich/csv", content=body(), headers=auth(key, **{"Content-Type": "text/csv"})
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert await db["batch_jobs"].count_documents({}) == 0
        assert await mesh.balance(account) == 50
