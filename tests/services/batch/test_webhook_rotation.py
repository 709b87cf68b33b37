"""Webhook secrets: the entry points refuse a missing, published or short master secret (run as
production runs them), `leadmesh up` makes one under its home, and an account's secret rotates
with a grace period during which deliveries carry both signatures, to a real receiver on loopback
through the real broker and store, and through the gateway."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from cli.stack import Stack
from libs.mongo import Document
from libs.settings import CommonSettings
from services.batch.signing import WebhookSecrets, account_webhook_secret, master_secret_problem
from services.batch.webhooks import SIGNATURE_HEADER, verify
from tests.service_processes import service_env
from tests.services.batch.receiver import Receiver
from tests.services.batch.test_csv_jobs import auth, batch_settings, upload
from tests.services.batch.test_webhooks import (  # noqa: F401 - fixtures
    StartDeliverer,
    broker,
    finished_job,
    receiver,
    start_deliverer,
)
from tests.services.enrichment.mesh import running_mesh
from tests.waiting import eventually

MASTER = "rotation-test-master-secret-0123456789abcdef"


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        (None, "is not set"),
        ("dev-only-webhook-secret-change-me", "published"),
        ("s3cret-but-short", "too short"),
    ],
)
@pytest.mark.parametrize("role", ["serve", "worker"])
def test_batch_refuses_to_start_without_a_good_master_secret(
    repo_root: Path, tmp_path: Path, role: str, secret: str | None, why: str
) -> None:
    env = service_env(repo_root, LEADMESH_MONGODB_URI="mongodb://127.0.0.1:9", LEADMESH_HOME=str(tmp_path))
    if secret is not None:
        env["LEADMESH_WEBHOOK_SECRET"] = secret
    done = subprocess.run(
        [sys.executable, "-m", "services.batch", role], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("batch cannot start: LEADMESH_WEBHOOK_SECRET") and why in last
    assert "at least 32 characters" in last and "leadmesh up" in last


def test_leadmesh_up_gives_the_stack_a_random_master_secret_kept_under_its_home(tmp_path: Path) -> None:
    saved = os.environ.pop("LEADMESH_WEBHOOK_SECRET", None)
    try:
        first = Stack(home=tmp_path, settings=CommonSettings()).child_env("mongodb://127.0.0.1:9")
        again = Stack(home=tmp_path, settings=CommonSettings()).child_env("mongodb://127.0.0.1:9")
        other = Stack(home=tmp_path / "other", settings=CommonSettings()).child_env("mongodb://127.0.0.1:9")
        os.environ["LEADMESH_WEBHOOK_SECRET"] = MASTER
        chosen = Stack(home=tmp_path, settings=CommonSettings()).child_env("mongodb://127.0.0.1:9")
    finally:
        os.environ.pop("LEADMESH_WEBHOOK_SECRET", None)
        if saved is not None:
            os.environ["LEADMESH_WEBHOOK_SECRET"] = saved
    secret = first["LEADMESH_WEBHOOK_SECRET"]
    assert master_secret_problem(secret) is None
    assert again["LEADMESH_WEBHOOK_SECRET"] == secret  # kept: the accounts' secrets derive from it
    assert other["LEADMESH_WEBHOOK_SECRET"] != secret
    assert chosen["LEADMESH_WEBHOOK_SECRET"] == MASTER  # the operator's own wins
    stored = tmp_path / "webhook-secret"
    assert stored.read_text().strip() == secret
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


async def test_rotation_signs_with_both_secrets_until_the_grace_period_ends(
    db: AsyncDatabase[Document],
    receiver: Receiver,  # noqa: F811
    start_deliverer: StartDeliverer,  # noqa: F811
) -> None:
    now = [datetime(2026, 11, 20, 9, 0, tzinfo=UTC)]
    secrets = WebhookSecrets(db, MASTER, grace=3600, clock=lambda: now[0])
    await receiver.start()
    running = await start_deliverer(signing_secrets=secrets.signing)
    original = await secrets.current("acct_a")
    assert original == account_webhook_secret(MASTER, "acct_a")  # as before rotation existed

    rotated, until = await secrets.rotate("acct_a")
    assert until == now[0] + timedelta(hours=1)
    assert rotated != original and await secrets.current("acct_a") == rotated
    assert await secrets.current("acct_b") == account_webhook_secret(MASTER, "acct_b")  # untouched

    async def deliver() -> str:
        job = finished_job(receiver.url())
        running.jobs[job.job_id] = job
        seen = len(receiver.requests)
        await running.deliverer.schedule(job)
        await eventually(lambda: len(receiver.requests) > seen)
        request = receiver.requests[-1]
        assert json.loads(request.body)["job_id"] == job.job_id
        return request.headers[SIGNATURE_HEADER.lower()]

    during = await deliver()
    assert during.count("v1=") == 2
    body = receiver.requests[-1].body
    assert verify(rotated, during, body) and verify(original, during, body)
    assert not verify(account_webhook_secret(MASTER, "acct_b"), during, body)

    now[0] += timedelta(hours=1, seconds=1)
    after = await deliver()
    body = receiver.requests[-1].body
    assert after.count("v1=") == 1
    assert verify(rotated, after, body) and not verify(original, after, body)
    # The store holds versions and salts, never a secret.
    stored = await db["batch_webhook_secrets"].find_one({"_id": "acct_a"})
    assert stored is not None and rotated not in str(stored) and original not in str(stored)


async def test_a_rotation_through_the_gateway_and_the_next_webhook(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    hook = Receiver()
    await hook.start()
    try:
        async with running_mesh(db, amqp_url, batch=batch_settings(webhook_secret=MASTER)) as mesh:
            _, key = await mesh.new_account(credits=50)
            _, other_key = await mesh.new_account(credits=50)
            before = (await mesh.http.get("/v1/webhooks/secret", headers=auth(key))).json()["secret"]
            other_before = (await mesh.http.get("/v1/webhooks/secret", headers=auth(other_key))).json()
            rotated = await mesh.http.post("/v1/webhooks/secret/rotate", headers=auth(key))
            assert rotated.status_code == 200, rotated.text
            answer = rotated.json()
            assert answer["secret"].startswith("whsec_") and answer["secret"] != before
            assert answer["header"] == "Leadmesh-Signature"
            expires = datetime.fromisoformat(answer["previous_secret_expires_at"].replace("Z", "+00:00"))
            assert abs((expires - datetime.now(UTC)).total_seconds() - 86_400) < 60  # the default grace
            current = (await mesh.http.get("/v1/webhooks/secret", headers=auth(key))).json()["secret"]
            assert current == answer["secret"]
            assert (
                await mesh.http.get("/v1/webhooks/secret", headers=auth(other_key))
            ).json() == other_before

            done = await upload(
                mesh, key, "email\nmike.chen@techflow.io\n", params={"webhook_url": hook.url()}
            )
            assert done.status_code == 200, done.text
            await eventually(lambda: len(hook.requests) == 1, within=30)
            signature = hook.requests[0].headers[SIGNATURE_HEADER.lower()]
            assert verify(current, signature, hook.requests[0].body)
            assert verify(before, signature, hook.requests[0].body)  # within the grace period
            assert abs(int(signature.split(",")[0].removeprefix("t=")) - time.time()) < 60
    finally:
        await hook.stop()
