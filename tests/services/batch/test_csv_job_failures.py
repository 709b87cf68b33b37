"""CSV jobs when things go wrong: a worker killed mid-job, chunks that keep failing, a cancel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from libs.mongo import Document
from services.batch.app import BrokerLink
from services.batch.settings import BatchSettings
from tests.services.batch.test_csv_jobs import auth, batch_settings, parse, upload, wait_finished
from tests.services.enrichment.mesh import Mesh, running_mesh
from tests.waiting import eventually

EMAILS = ["mike.chen@techflow.io", "ana@techflow.io", "nobody@unknown-example.org"]


def rows_text(count: int) -> str:
    return "email,company\n" + "".join(f"{EMAILS[n % 3]},TechFlow\n" for n in range(count))


async def result_count(db: AsyncDatabase[Document], job_id: str) -> int:
    return await db["batch_results"].count_documents({"_id": {"$gt": f"{job_id}:", "$lt": f"{job_id};"}})


def start_worker(
    settings: BatchSettings, mongo_uri: str, db: AsyncDatabase[Document], amqp_url: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEADMESH_MONGODB_URI": mongo_uri,
        "LEADMESH_MONGODB_DATABASE": db.name,
        "LEADMESH_AMQP_URL": amqp_url,
        "LEADMESH_ENRICHMENT_ADDR": settings.enrichment_addr,
        "LEADMESH_BILLING_ADDR": settings.billing_addr,
        "LEADMESH_BATCH_WORKER_PREFETCH": "1",
        "LEADMESH_WEBHOOK_SECRET": settings.webhook_secret.get_secret_value(),
        "LEADMESH_LOG_LEVEL": "WARNING",
    }
    root = Path(__file__).resolve().parents[3]
    return subprocess.Popen([sys.executable, "-m", "services.batch", "worker"], cwd=root, env=env)


async def charges_of(mesh: Mesh, account_id: str) -> list[billing_pb.LedgerEntry]:
    found: list[billing_pb.LedgerEntry] = []
    token = ""
    while True:
        page = await mesh.billing.ListLedgerEntries(
            billing_pb.ListLedgerEntriesRequest(account_id=account_id, page_size=100, page_token=token)
        )
        found += [e for e in page.entries if e.kind == billing_pb.LEDGER_ENTRY_KIND_RESERVATION_CHARGE]
        token = page.next_page_token
        if not token:
            return found


async def test_a_worker_killed_mid_job_loses_nothing_and_charges_each_row_once(
    db: AsyncDatabase[Document], amqp_url: str, mongo_uri: str
) -> None:
    settings = batch_settings(batch_chunk_rows=3, batch_max_rows=1_000)
    async with running_mesh(db, amqp_url, batch=settings, batch_worker=False, csv_sync_max_rows=0) as mesh:
        account, key = await mesh.new_account(credits=200)
        response = await upload(mesh, key, rows_text(90))
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        worker_settings: BatchSettings = mesh.servers["batch_settings"]

        async def under_way() -> bool:
            return await result_count(db, job_id) >= 6

        first = start_worker(worker_settings, mongo_uri, db, amqp_url)
        try:
            await eventually(under_way, within=30)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            killed_at = await result_count(db, job_id)
            assert 6 <= killed_at < 90, killed_at  # killed mid-job
        finally:
            if first.poll() is None:
                first.kill()
        second = start_worker(worker_settings, mongo_uri, db, amqp_url)
        try:
            done = await wait_finished(mesh, key, job_id, timeout=120)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(20)
        assert done["status"] == "succeeded"
        assert done["counts"] == {
            "enriched": 60,
            "not_found": 30,
            "invalid_input": 0,
            "failed": 0,
            "pending": 0,
        }
        assert await result_count(db, job_id) == 90  # exactly one result per row
        charges = await charges_of(mesh, account)
        keys = [entry.idempotency_key for entry in charges]
        assert len(keys) == len(set(keys)) == 60  # one charge per matched row, none twice
        assert set(keys) == {f"job:{job_id}:row:{n}" for n in range(1, 91) if (n - 1) % 3 != 2}
        assert await mesh.balance(account) == 140 and done["credits_used"] == 60
        result = await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))
        rows = parse(result.text)
        assert [row[2] for row in rows[1:]] == [str(n) for n in range(1, 91)]


async def test_chunks_that_keep_failing_are_dead_lettered_their_rows_failed_and_nothing_charged(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    async with running_mesh(db, amqp_url, batch=batch_settings(), csv_sync_max_rows=0) as mesh:
        account, key = await mesh.new_account(credits=20)
        await mesh.stop("enrichment")  # every EnrichBatch fails: each chunk exhausts its attempts
        response = await upload(mesh, key, rows_text(5))
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        done = await wait_finished(mesh, key, job_id)
        assert done["status"] == "failed" and done["counts"]["failed"] == 5
        assert done["error"]["code"] == "ALL_ROWS_FAILED" and done["credits_used"] == 0
        reasons = {doc["reason"] async for doc in db["batch_results"].find({})}
        assert len(reasons) == 1 and "UNAVAILABLE" in reasons.pop()
        assert await mesh.balance(account) == 20  # the hold was released in full
        rows = parse((await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))).text)
        assert [row[3] for row in rows[1:]] == ["failed"] * 5


async def test_a_cancelled_job_stops_and_returns_its_unused_credits(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    async with running_mesh(
        db, amqp_url, batch=batch_settings(), batch_worker=False, csv_sync_max_rows=0
    ) as mesh:
        account, key = await mesh.new_account(credits=50)
        response = await upload(mesh, key, rows_text(12))
        job_id = response.json()["job_id"]
        assert await mesh.balance(account) == 38  # worst case held: all 12 rows have an identifier
        early = await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))
        assert early.status_code == 409 and early.json()["error"]["code"] == "JOB_NOT_FINISHED", early.text
        assert early.json()["error"]["message"].startswith(f"job {job_id} is queued (0% done)")
        cancelled = await mesh.http.delete(f"/v1/jobs/{job_id}", headers=auth(key))
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        again = await mesh.http.delete(f"/v1/jobs/{job_id}", headers=auth(key))
        assert again.status_code == 409
        from services.batch.app import create_worker

        async def settled() -> bool:
            return await mesh.balance(account) == 50

        worker = await create_worker(db, mesh.servers["batch_settings"], amqp_url)
        await worker.start()
        try:
            await eventually(settled)
        finally:
            await worker.stop()
        assert await mesh.balance(account) == 50  # nothing enriched after the cancel, hold released
        rows = parse((await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))).text)
        assert len(rows) == 13 and {row[3] for row in rows[1:]} == {"failed"}


async def test_rows_enriched_before_a_failed_charge_are_charged_when_the_chunk_is_settled(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    """A first attempt stored row 1 as enriched and then failed to charge it; the job is cancelled
    before the redelivery. Settling the chunk charges row 1 (it was delivered) and fails the rest."""
    async with running_mesh(
        db, amqp_url, batch=batch_settings(), batch_worker=False, csv_sync_max_rows=0
    ) as mesh:
        account, key = await mesh.new_account(credits=50)
        job_id = (await upload(mesh, key, rows_text(2))).json()["job_id"]
        await db["batch_results"].insert_one(
            {"_id": f"{job_id}:0000001", "status": "enriched", "cells": [""] * 14, "credits": 1, "reason": ""}
        )
        cancelled = await mesh.http.delete(f"/v1/jobs/{job_id}", headers=auth(key))
        assert cancelled.status_code == 200, cancelled.text
        from services.batch.app import create_worker

        async def settled() -> bool:
            return await mesh.balance(account) == 49

        worker = await create_worker(db, mesh.servers["batch_settings"], amqp_url)
        await worker.start()
        try:
            await eventually(settled)
        finally:
            await worker.stop()
        assert [c.idempotency_key for c in await charges_of(mesh, account)] == [f"job:{job_id}:row:1"]
        assert await mesh.balance(account) == 49  # one row charged, the rest of the hold released
        job = (await mesh.http.get(f"/v1/jobs/{job_id}", headers=auth(key))).json()
        assert job["credits_used"] == 1 and job["counts"]["enriched"] == 1 and job["counts"]["failed"] == 1


async def test_a_job_the_broker_failed_to_queue_stands_and_the_workers_sweep_queues_it(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    """Once stored, a job is never undone (its first chunks may be charged already): an upload whose
    chunks could not be published answers with its job, which a worker's sweep queues later."""
    async with running_mesh(
        db, amqp_url, batch=batch_settings(), batch_worker=False, csv_sync_max_rows=0
    ) as mesh:
        account, key = await mesh.new_account(credits=50)
        await mesh.servers["batch"].part(BrokerLink).publisher.close()  # every publish of the server fails
        response = await upload(mesh, key, rows_text(6), **{"Idempotency-Key": "stalled-1"})
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        again = await upload(mesh, key, rows_text(6), **{"Idempotency-Key": "stalled-1"})
        assert again.status_code == 202 and again.json()["job_id"] == job_id  # the key still answers it
        from services.batch.app import create_worker

        settings: BatchSettings = mesh.servers["batch_settings"]
        sweeping = settings.model_copy(update={"batch_sweep_interval": 0.2, "batch_sweep_age": 0.0})
        worker = await create_worker(db, sweeping, amqp_url)
        await worker.start()
        try:
            done = await wait_finished(mesh, key, job_id, timeout=60)
        finally:
            await worker.stop()
        assert done["status"] == "succeeded" and done["counts"]["enriched"] == 4
        assert await mesh.balance(account) == 46
