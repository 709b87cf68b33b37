"""A cold company whose website is slow: the lead is answered within intent's wait budget, says
``meta.pending: ["intent"]``, and the fetch carries on so that a later lead carries the signal."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from tests.services.enrichment.mesh import Mesh, running_mesh
from tests.waiting import eventually


async def enrich(mesh: Mesh, key: str, email: str) -> Any:
    response = await mesh.http.post(
        "/v1/enrich/lead", json={"email": email}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_slow_homepage_is_pending_then_its_signal_comes_with_a_later_lead(
    db: AsyncDatabase[Document], amqp_url: str
) -> None:
    # The homepage answers after 1.5 s, well within a fetch's 2 s, far past the 0.1 s a lead waits.
    budget = {"intent_first_fetch_wait": 0.1, "intent_fetch_timeout": 4.0}
    async with running_mesh(db, amqp_url, intent_settings=budget) as mesh:
        web = mesh.servers["web"]
        web.pages["/sites/techflow/"].delay = 1.5
        _, key = await mesh.new_account(credits=100)

        first = await enrich(mesh, key, "mike.chen@techflow.io")
        assert first["status"] == "completed"
        assert first["meta"]["pending"] == ["intent"]
        assert "adopted_hubspot" not in first["lead"]["intent_signals"]
        assert first["meta"]["degraded"] == []  # pending is not a failure
        assert first["lead"]["email_status"] == "valid"  # the rest of the answer is all there

        async def signal_arrived() -> Any:
            later = await enrich(mesh, key, "mike.chen@techflow.io")
            return later if "adopted_hubspot" in later["lead"]["intent_signals"] else None

        later = await eventually(signal_arrived, within=15, interval=0.3)
        assert later["meta"]["pending"] == []
        assert web.hits_of("/sites/techflow/") == 1  # fetched once, by the first lead
