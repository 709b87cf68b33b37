"""CSV files through the Python SDK: a small file answered at once, a large one as a job polled
with progress and streamed to a file, the jobs resource, and the job's webhook, delivered for
real to a loopback receiver, verified with ``leadmesh_client.webhooks.verify``."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from leadmesh_client import AsyncLeadmesh, ConflictError, Leadmesh, webhooks
from tests.sdk.python.conftest import base_url, in_thread
from tests.services.batch.receiver import Receiver
from tests.services.enrichment.mesh import Mesh
from tests.waiting import eventually

EMAILS = ["mike.chen@techflow.io", "ana@techflow.io", "lena@techflow.io", "nobody@unknown-example.org"]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_a_small_file_comes_back_at_once(mesh: Mesh, tmp_path: Path) -> None:
    account, key = await mesh.new_account(credits=10)
    source = tmp_path / "few.csv"
    source.write_text("Work Email,Company\nana@techflow.io,TechFlow\nnobody@unknown-example.org,Nope\n")
    progress: list[tuple[int, int]] = []
    with Leadmesh(key, base_url=base_url(mesh)) as client:
        result = await in_thread(
            lambda: client.enrich.csv(
                source, output=tmp_path / "few-enriched.csv", on_progress=lambda *p: progress.append(p)
            )
        )
        in_memory = await in_thread(
            lambda: client.enrich.csv(io.BytesIO(source.read_bytes()), fields=["person"])
        )
    assert result.status == "succeeded" and result.total_rows == 2 and result.credits_used == 1
    assert result.output == tmp_path / "few-enriched.csv" and result.text is None
    assert result.mapping == {"email": "Work Email", "company_name": "Company"}
    assert progress == [(2, 2)]
    written = rows(result.output.read_text())
    assert [r["status"] for r in written] == ["enriched", "not_found"] and written[0]["Company"] == "TechFlow"
    assert not list(tmp_path.glob("*.part"))
    assert in_memory.text is not None and [r["status"] for r in rows(in_memory.text)] == [
        "enriched",
        "not_found",
    ]
    assert await mesh.balance(account) == 8


async def test_a_large_file_is_a_job_polled_with_progress_and_its_webhook_verifies(
    mesh: Mesh, tmp_path: Path
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        account, key = await mesh.new_account(credits=100)
        source = tmp_path / "leads.csv"
        source.write_text("email\n" + "".join(f"{EMAILS[n % 4]}\n" for n in range(20)))
        progress: list[tuple[int, int]] = []
        async with AsyncLeadmesh(key, base_url=base_url(mesh)) as client:
            result = await client.enrich.csv(
                source,
                webhook_url=receiver.url(),
                output=tmp_path / "out.csv",
                on_progress=lambda done, total: progress.append((done, total)),
                poll_interval=0.05,
            )
            secret = (await client.webhooks.secret()).secret
        assert result.status == "succeeded" and result.total_rows == 20 and result.credits_used == 15
        assert result.job is not None and result.job.counts.not_found == 5
        assert progress[-1] == (20, 20) and all(total == 20 for _, total in progress)
        assert [done for done, _ in progress] == sorted(done for done, _ in progress)
        written = rows((tmp_path / "out.csv").read_text())
        assert [r["email"] for r in written] == [EMAILS[n % 4] for n in range(20)]
        assert await mesh.balance(account) == 85

        await eventually(lambda: receiver.requests)
        hook = receiver.requests[0]
        header = hook.headers["leadmesh-signature"]
        assert webhooks.verify(secret, header, hook.body)
        assert json.loads(hook.body)["job_id"] == result.job_id
        assert not webhooks.verify(secret, header, hook.body + b" ")
        assert not webhooks.verify(secret, header, hook.body, tolerance=300, now=time.time() + 3600)
        assert not webhooks.verify(secret.replace("whsec_", "whsec_x"), header, hook.body)
        assert not webhooks.verify(secret, "t=1,v1", hook.body) and not webhooks.verify(secret, None, b"")
    finally:
        await receiver.stop()


async def test_jobs_list_every_page_get_download_and_cancel(mesh: Mesh, tmp_path: Path) -> None:
    _, key = await mesh.new_account(credits=100)
    body = "email\n" + "".join(f"{EMAILS[n % 3]}\n" for n in range(9))
    with Leadmesh(key, base_url=base_url(mesh)) as client:
        started = [
            await in_thread(lambda: client.enrich.csv(io.BytesIO(body.encode()), wait=False))
            for _ in range(3)
        ]
        assert all(s.job is not None and s.text is None for s in started)
        listed = await in_thread(lambda: list(client.jobs.list(page_size=2)))
        assert [job.id for job in listed] == [s.job_id for s in reversed(started)]
        ended = await in_thread(lambda: client.jobs.wait(started[0].job_id, poll_interval=0.05))
        assert ended.status == "succeeded" and ended.done_rows == 9
        got = await in_thread(lambda: client.jobs.get(started[0].job_id))
        assert got == ended and got.progress == 1.0
        into = io.BytesIO()
        downloaded = await in_thread(lambda: client.jobs.download(started[0].job_id, into))
        assert downloaded.job_id == started[0].job_id and downloaded.credits_used == 9
        assert len(rows(into.getvalue().decode())) == 9
        with pytest.raises(ConflictError) as finished:
            await in_thread(lambda: client.jobs.cancel(started[0].job_id))
        assert finished.value.code == "JOB_FINISHED"
