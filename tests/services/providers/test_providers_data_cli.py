"""``leadmesh data import`` and ``leadmesh data seed-demo`` against the embedded store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from libs.mongo import Document
from tests.services.providers.support import serve

REPO = Path(__file__).resolve().parents[3]


def leadmesh(mongo_uri: str, database: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LEADMESH_MONGODB_URI": mongo_uri,
        "LEADMESH_MONGODB_DATABASE": database,
        "LEADMESH_HOME": str(home),
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "data", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


CSV = """\
Work Email,First Name,Last Name,Job Title,Company Name,Company Website,Employees,Industry,Phone
jane.doe@acme-robotics.com,Jane,Doe,VP Eng,"Acme Robotics, Inc.",acme-robotics.com,250,Robotics,(415) 555-2671
bad-address@,Bob,Broken,CTO,Acme Robotics,acme-robotics.com,250,Robotics,
,,,Software Engineer,,,,,
sam@acme-robotics.com,Sam,Lee,Sr. Software Eng,Acme Robotics,acme-robotics.com,250,Robotics,,surplus
,Kim,Park,Head of Sales,Acme Robotics,acme-robotics.com,,,
"""


async def test_import_csv_maps_columns_and_reports_rejected_rows(
    db: AsyncDatabase[Document], mongo_uri: str, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(CSV)
    result = leadmesh(mongo_uri, db.name, tmp_path, "import", str(path), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["rows"] == 5
    assert report["columns"]["Work Email"] == "email"
    assert report["columns"]["Company Website"] == "company_domain"
    rejected = {row["line"]: row["reason"] for row in report["rejected"]}
    assert set(rejected) == {3, 4, 5}
    assert "invalid email" in rejected[3]
    assert "no identifier" in rejected[4] or "needs" in rejected[4]
    assert "more fields" in rejected[5]
    assert report["people"] == 2

    async with serve(db) as stub:
        found = await stub.Lookup(pb.LookupRequest(lead=common.LeadInput(email="jane.doe@acme-robotics.com")))
        person = found.result.person
        assert (person.title, person.seniority, person.phone) == (
            "Vice President of Engineering",
            common.SENIORITY_VP,
            "+14155552671",
        )
        assert found.result.company.name == "Acme Robotics"
        assert found.result.company.size == common.COMPANY_SIZE_201_500
        by_name = await stub.Lookup(
            pb.LookupRequest(lead=common.LeadInput(full_name="Kim Park", company_domain="acme-robotics.com"))
        )
        assert by_name.result.found and by_name.result.person.title == "Head of Sales"
        contacts = await stub.FindContacts(pb.FindContactsRequest(company_domain="acme-robotics.com"))
        assert [c.last_name for c in contacts.contacts] == ["Doe", "Park"]


async def test_import_json_lines_and_the_text_report(
    db: AsyncDatabase[Document], mongo_uri: str, tmp_path: Path
) -> None:
    path = tmp_path / "people.jsonl"
    lines = [
        json.dumps({"email": "li@globex.com", "name": "Li Wei", "title": "CFO", "company": "Globex"}),
        "{not json",
        json.dumps(["a", "list"]),
        "",
        json.dumps(
            {"linkedin": "https://www.linkedin.com/in/ada-l", "full_name": "Ada L", "position": "Intern"}
        ),
    ]
    path.write_text("\n".join(lines) + "\n")
    result = leadmesh(mongo_uri, db.name, tmp_path, "import", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "imported 2 of 4 rows" in result.stdout
    assert "line 2: invalid JSON" in result.stdout
    assert "line 3: a line must be a JSON object" in result.stdout


async def test_import_of_a_missing_file_fails(
    db: AsyncDatabase[Document], mongo_uri: str, tmp_path: Path
) -> None:
    result = leadmesh(mongo_uri, db.name, tmp_path, "import", str(tmp_path / "nope.csv"))
    assert result.returncode == 1
    assert "no such file" in result.stdout


async def test_seed_demo_is_deterministic_and_searchable(
    db: AsyncDatabase[Document], mongo_uri: str, tmp_path: Path
) -> None:
    first = leadmesh(
        mongo_uri, db.name, tmp_path, "seed-demo", "--companies", "30", "--people", "400", "--json"
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(first.stdout)["people"] == 400
    ids = sorted([doc["_id"] async for doc in db["providers_people"].find({}, {"_id": 1})])
    again = leadmesh(
        mongo_uri, db.name, tmp_path, "seed-demo", "--companies", "30", "--people", "400", "--json"
    )
    assert again.returncode == 0
    assert sorted([doc["_id"] async for doc in db["providers_people"].find({}, {"_id": 1})]) == ids
    assert await db["providers_companies"].count_documents({}) == 30
    sample = await db["providers_people"].find_one({"seniority": "vp"})
    assert sample is not None
    async with serve(db) as stub:
        found = await stub.Lookup(pb.LookupRequest(lead=common.LeadInput(email=sample["email"])))
        assert found.result.found and found.result.person.seniority == common.SENIORITY_VP
        company = await stub.Lookup(
            pb.LookupRequest(lead=common.LeadInput(company_domain=sample["company_domain"]))
        )
        assert company.result.found and company.result.contacts
