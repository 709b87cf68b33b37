"""Every resource of the Python SDK against the real mesh: enrichment (the seed's example as
written), stored records, CSV rows, the ICP profile, signals, credits and the ledger's pages, the
webhook secret; the blocking and the asyncio client, which share one surface."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import leadmesh_client
from leadmesh_client import AsyncLeadmesh, ConflictError, EnrichmentResult, Leadmesh, LeadmeshError
from tests.sdk.python.conftest import Proxy, base_url, in_thread
from tests.services.enrichment.mesh import Mesh


def readme_example() -> str:
    """The README's Python example of the seed, as written there."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    after = readme.split("The seed's example, with our names:", 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


async def test_the_seed_example_of_the_readme_works_as_written(
    mesh: Mesh, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    account, key = await mesh.new_account(credits=5)
    monkeypatch.setenv("LEADMESH_API_KEY", key)
    monkeypatch.setenv("LEADMESH_BASE_URL", base_url(mesh))
    code = readme_example()
    assert 'print(result["lead"]["title"])' in code
    names: dict[str, Any] = {}
    # Our loopback mesh knows techflow.io, not acme.com: the one change.
    await in_thread(lambda: exec(code.replace("jane@acme.com", "mike.chen@techflow.io"), names))
    names["client"].close()
    result = names["result"]
    printed = capsys.readouterr().out.strip()
    assert printed and printed == result.lead.title == result["lead"]["title"]
    assert isinstance(result, EnrichmentResult) and result.status == "completed"
    assert result.lead.email_status == "valid" and result.lead.seniority == "director"
    assert result.meta.credits_used == 1 and await mesh.balance(account) == 4
    # What the SDK declares nowhere is kept, as attribute and key: a newer server's fields survive.
    assert result.lead.icp_breakdown == result["lead"]["icp_breakdown"] and result.lead.icp_breakdown
    assert result.meta.degraded == [] and "providers_queried" in result.meta
    assert json.loads(json.dumps(result)) == result  # still a plain dict for json


async def test_construction_defaults_and_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADMESH_API_KEY", raising=False)
    monkeypatch.delenv("LEADMESH_BASE_URL", raising=False)
    with pytest.raises(LeadmeshError, match="LEADMESH_API_KEY"):
        Leadmesh()
    with pytest.raises(LeadmeshError, match="LEADMESH_API_KEY"):
        AsyncLeadmesh()
    assert Leadmesh(api_key="lm_live_x").base_url == "http://127.0.0.1:8080"
    monkeypatch.setenv("LEADMESH_BASE_URL", "http://gateway.internal:9000/")
    assert AsyncLeadmesh(api_key="lm_live_x").base_url == "http://gateway.internal:9000"


def _surface(client: object) -> dict[str, list[tuple[str, str]]]:
    resources = {}
    for name in ("enrich", "enrichments", "jobs", "icp", "signals", "credits", "webhooks"):
        resource = getattr(client, name)
        resources[name] = [
            (method, str(list(inspect.signature(getattr(resource, method)).parameters.values())))
            for method in dir(resource)
            if not method.startswith("_")
        ]
    return resources


def test_sync_and_async_clients_have_one_surface() -> None:
    sync, asynchronous = Leadmesh(api_key="k"), AsyncLeadmesh(api_key="k")
    assert _surface(sync) == _surface(asynchronous)
    assert "email: 'str | None' = None" in dict(_surface(sync)["enrich"])["lead"]
    assert [m for m, _ in _surface(sync)["jobs"]] == ["cancel", "download", "get", "list", "wait"]
    assert inspect.iscoroutinefunction(asynchronous.enrich.lead)


async def test_async_client_enriches_and_reads_the_stored_record(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=5)
    async with AsyncLeadmesh(key, base_url=base_url(mesh)) as client:
        result = await client.enrich.lead(first_name="Lena", last_name="Berg", company="TechFlow")
        assert result.status == "completed" and result.lead.company_domain == "techflow.io"
        stored = await client.enrichments.get(result.id)
        assert stored == result and stored.lead.title == result.lead.title
        company = await client.enrich.lead(company_domain="techflow.io", max_contacts=2, skip_icp=True)
        assert company.contacts is not None and 1 <= len(company.contacts) <= 2
        assert all(contact.icp_score is None for contact in company.contacts)
        row = await client.enrich.csv_row(email="ana@techflow.io", row_number=3, total_rows=9, row_ref="r-3")
        assert row.csv_row.row_id == 3 and row.csv_row.row_ref == "r-3" and row.meta.total_rows == 9
        assert row["csv_row"]["enriched_email_status"] == "valid"


async def test_requests_carry_the_user_agent_and_a_fresh_idempotency_key(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=5)
    async with (
        Proxy(("127.0.0.1", mesh.http.base_url.port or 80)) as proxy,
        AsyncLeadmesh(key, base_url=proxy.url) as client,
    ):
        await client.enrich.lead(email="ana@techflow.io")
        await client.enrich.lead(email="ana@techflow.io", idempotency_key="mine-1")
        await client.credits.get()
    agents = proxy.requests_with(b"user-agent")
    assert agents == [f"leadmesh-python/{leadmesh_client.__version__}".encode()] * 3
    keys = proxy.requests_with(b"idempotency-key")
    assert len(keys) == 2 and keys[0].startswith(b"lm-") and keys[1] == b"mine-1"  # none on the GET


async def test_icp_profile_versions_and_if_match(mesh: Mesh) -> None:
    _, key = await mesh.new_account()
    with Leadmesh(key, base_url=base_url(mesh)) as client:
        current = await in_thread(client.icp.get)
        assert current.is_default and current.version >= 1
        profile = {**current, "seniorities": {"values": ["vp", "c_level"], "weight": 40}}
        updated = await in_thread(lambda: client.icp.update(profile, if_match=current.version))
        assert updated.version == current.version + 1 and not updated.is_default
        assert updated.seniorities.values == ["vp", "c_level"]  # a key wins over dict.values
        with pytest.raises(ConflictError) as stale:
            await in_thread(
                lambda: client.icp.update(profile | {"intent_boost_max": 5}, if_match=current.version)
            )
        assert stale.value.status == 409 and stale.value.code == "ICP_VERSION_CONFLICT"
        assert stale.value.request_id
        versions = await in_thread(lambda: list(client.icp.versions(page_size=1)))  # every page
        assert [v.version for v in versions] == [updated.version, current.version]
        old = await in_thread(lambda: client.icp.get(version=current.version))
        assert old.is_default


async def test_signals_credits_ledger_pages_and_webhook_secret(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=3)
    async with AsyncLeadmesh(key, base_url=base_url(mesh)) as client:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        sent = await client.signals.send(
            [
                {"domain": "techflow.io", "type": "pricing_page_view", "occurred_at": now},
                {"domain": "techflow.io", "type": "no_such_type"},
            ]
        )
        assert sent.accepted == 1 and [r.index for r in sent.rejected] == [1]
        for email in ("ana@techflow.io", "tom@techflow.io"):
            await client.enrich.lead(email=email)
        credits = await client.credits.get()
        assert credits.balance == 1 and credits.free_tier.monthly_credits >= 0
        entries = [entry async for entry in client.credits.ledger(page_size=1)]
        assert [e.type for e in entries] == ["charge", "charge", "credit"]
        assert [e.amount for e in entries][-1] == 3 and len({e.id for e in entries}) == 3
        secret = await client.webhooks.secret()
        assert secret.secret.startswith("whsec_") and secret.header == "Leadmesh-Signature"
