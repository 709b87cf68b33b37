"""`leadmesh privacy erase` against the real mesh: after an erasure the person is nowhere in the
store (in any case or form), is never found again (for 0 credits), cannot be imported again, and
a second erasure changes nothing. Every collection the mesh writes is declared by its service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from cli.main import main as cli_main
from cli.privacy import erase
from libs.mongo import Document
from libs.privacy import DataSubject, mentions, needles, subject
from services.batch.privacy import declared as batch_declared
from services.billing.privacy import declared as billing_declared
from services.enrichment.privacy import declared as enrichment_declared
from services.intent.privacy import declared as intent_declared
from services.providers.privacy import declared as providers_declared
from services.providers.repository import DirectoryRepository
from services.scoring.privacy import declared as scoring_declared
from services.verifier.privacy import declared as verifier_declared
from services.verifier.repository import VerdictCache
from tests.services.batch.test_csv_jobs import auth, batch_settings, upload
from tests.services.enrichment.mesh import PRIVACY_SECRET, Mesh, running_mesh

ANA = "ana@techflow.io"
# How the person may be written anywhere: the address in any case, percent-encoded, and the
# local part with the domain.
FORMS = ("ana@techflow.io", "ana%40techflow.io")


@pytest_asyncio.fixture
async def mesh(
    db: AsyncDatabase[Document], amqp_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[Mesh]:
    async with running_mesh(db, amqp_url, batch=batch_settings(), csv_sync_max_rows=1000) as running:
        monkeypatch.setenv("LEADMESH_HOME", str(tmp_path / "home"))
        for name, address in running.addresses.items():
            monkeypatch.setenv(f"LEADMESH_{name.upper()}_ADDR", address)
        yield running


async def everything(db: AsyncDatabase[Document]) -> dict[str, list[Document]]:
    return {name: await db[name].find({}).to_list(None) for name in await db.list_collection_names()}


async def where_mentioned(db: AsyncDatabase[Document], forms: tuple[str, ...]) -> list[str]:
    return [
        f"{name}:{document.get('_id')}"
        for name, documents in (await everything(db)).items()
        for document in documents
        if mentions(document, forms)
    ]


async def use_the_person_everywhere(mesh: Mesh, key: str) -> None:
    """Every way the mesh comes to keep Ana: enriched by address and as a company's contact,
    a CSV row, a web event naming her, a verdict of her address."""
    assert (
        await mesh.http.post("/v1/enrich/lead", json={"email": "Ana@TechFlow.io"}, headers=auth(key))
    ).status_code == 200
    company = await mesh.http.post(
        "/v1/enrich/lead", json={"company_domain": "techflow.io"}, headers=auth(key)
    )
    assert company.status_code == 200, company.text
    assert ANA in company.text
    rows = "email,first_name,note\nana@techflow.io,Ana,call her\nmike.chen@techflow.io,Mike,\n"
    answer = await upload(mesh, key, rows)
    assert answer.status_code == 200, answer.text
    assert ANA in answer.text
    events = [
        {
            "email": ANA,
            "type": "pricing_page_view",
            "url": "https://techflow.io/pricing?visitor=ana%40techflow.io",
        }
    ]
    recorded = await mesh.http.post("/v1/signals/events", json={"events": events}, headers=auth(key))
    assert recorded.status_code == 200, recorded.text


async def test_an_erased_person_is_nowhere_found_never_again_and_not_imported_again(
    mesh: Mesh,
    db: AsyncDatabase[Document],
    mongo_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account, key = await mesh.new_account(credits=100)
    await use_the_person_everywhere(mesh, key)
    assert await where_mentioned(db, FORMS), "the scenario should have stored Ana somewhere"

    report = await erase([subject(email="ANA@techflow.io")], operator="dpo@example.test")

    assert report["complete"], report
    assert report["erased"]["providers"]["providers_people"] == 1
    assert report["erased"]["enrichment"]["enrichment_records"] >= 2
    assert report["erased"]["batch"]["batch_rows"] == 1
    assert report["erased"]["intent"]["intent_events"] == 1
    assert await where_mentioned(db, FORMS) == []
    # The audit keeps who, when and how many, never the address.
    audit = await db["providers_erasures"].find_one({"_id": report["erasure_id"]})
    assert audit is not None and audit["complete"] and audit["operator"] == "dpo@example.test"
    assert {"service": "batch", "collection": "batch_rows", "items": 1} in audit["erased"]
    assert not mentions(audit, FORMS)
    # The billed record stays, the job's rows and credits too.
    records = await db["enrichment_records"].count_documents({"account_id": account})
    assert records == 2

    before = await mesh.balance(account)
    again = await mesh.http.post("/v1/enrich/lead", json={"email": "ana@techflow.io"}, headers=auth(key))
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["status"] == "not_found"
    assert body["meta"]["credits_used"] == 0 and body["meta"]["not_found_reason"] == "suppressed"
    assert await mesh.balance(account) == before
    contacts = await mesh.http.post(
        "/v1/enrich/lead", json={"company_domain": "techflow.io"}, headers=auth(key)
    )
    assert ANA not in contacts.text and "mike.chen@techflow.io" in contacts.text
    assert await where_mentioned(db, FORMS) == []

    # A re-import is refused row by row.
    source = tmp_path / "people.csv"
    source.write_text(
        "email,first_name,last_name,company\nana@techflow.io,Ana,Silva,TechFlow\nnew@techflow.io,New,Person,TechFlow\n"
    )
    monkeypatch.setenv("LEADMESH_MONGODB_URI", mongo_uri)
    monkeypatch.setenv("LEADMESH_MONGODB_DATABASE", db.name)
    monkeypatch.setenv("LEADMESH_PRIVACY_HASH_SECRET", PRIVACY_SECRET)
    capsys.readouterr()
    code = await asyncio.to_thread(cli_main, ["data", "import", str(source), "--json"])
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and payload["rejected"] == [{"line": 2, "reason": "suppressed"}], payload
    assert await where_mentioned(db, FORMS) == []

    # Running it again changes nothing.
    second = await erase([subject(email=ANA)], operator="dpo@example.test")
    assert second["complete"]
    assert all(items == 0 for counts in second["erased"].values() for items in counts.values()), second


async def test_every_collection_the_mesh_writes_is_declared_by_its_service(
    mesh: Mesh, db: AsyncDatabase[Document]
) -> None:
    _, key = await mesh.new_account(credits=100)
    await use_the_person_everywhere(mesh, key)
    await erase([subject(email=ANA)], operator="test")
    declared = [
        providers_declared(DirectoryRepository(db)),
        enrichment_declared(),
        verifier_declared(VerdictCache(db, 1, 1, 1)),
        intent_declared(),
        batch_declared(),
        billing_declared(),
        scoring_declared(),
    ]
    known = frozenset().union(*(d.collections for d in declared))
    written = set(await db.list_collection_names())
    assert written - known == set(), "collections no service declares (personal data or not)"


def test_people_are_named_by_a_normalised_address_or_profile() -> None:
    assert subject(email=" Jane@ACME.com ") == DataSubject("jane@acme.com", "")
    assert subject(linkedin_url="uk.linkedin.com/in/Jane-Doe/?x=1").linkedin_url == (
        "https://www.linkedin.com/in/jane-doe"
    )
    assert needles([subject(email="jane@acme.com")]) == ("jane@acme.com", "jane%40acme.com")
    with pytest.raises(Exception, match="not an email address"):
        subject(email="not-an-address")
