"""A CSV job whose rows' mail server greylists: the chunks write them ``unknown`` (no time to come
back within a chunk), and the job checks them once more before it completes."""

from __future__ import annotations

import csv
import io

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from services.demo_world import Greylist, MailServer
from tests.services.batch.test_csv_jobs import auth, batch_settings, wait_finished
from tests.services.enrichment.mesh import MAILBOXES, running_mesh

ROWS = "First Name,Email\r\nMike,mike.chen@techflow.io\r\nAna,ana@techflow.io\r\n"


async def test_greylisted_rows_are_checked_again_before_the_job_completes(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    # The verifier comes back to a greylisting server after 1.5 s: later than a chunk's verifier
    # call may wait, well within the 60 s a job may wait for its re-check.
    verifier = {"verifier_greylist_backoff": 1.5}
    async with running_mesh(
        db, amqp_url, batch=batch_settings(), csv_sync_max_rows=0, verifier_settings=verifier
    ) as mesh:
        farm = mesh.servers["farm"]
        greylist = Greylist(MAILBOXES, delay=1.0)
        for server in farm._servers:
            if isinstance(server, MailServer) and server.behaviour is farm.behaviours["mx-known"]:
                server.behaviour = greylist  # techflow.io's mail server greylists from now on
        _, key = await mesh.new_account(credits=100)
        response = await mesh.http.post(
            "/v1/enrich/csv", files={"file": ("leads.csv", ROWS.encode(), "text/csv")}, headers=auth(key)
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        job = await wait_finished(mesh, key, job_id)
        assert job["status"] == "succeeded"
        replies = [probe.reply for probe in greylist.rcpts if not probe.recipient.startswith("lmverify-")]
        assert any(reply.startswith("451") for reply in replies)  # greylisted in the chunk
        result = await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))
        rows = list(csv.DictReader(io.StringIO(result.text)))
        assert [row["enriched_email_status"] for row in rows] == ["valid", "valid"]
        assert job["credits_used"] == 2  # the re-check costs nothing more
