"""Uploads whose rows are too wide or too long are refused with a 422 naming the line, before any
work or charge; result cells that a spreadsheet would run are escaped unless the upload asks not
to (``escape_formulas=false``), on the synchronous path and on a job's result.csv alike."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.batch.v1 import batch_service_pb2 as batch_pb
from libs.errors import InvalidArgument
from libs.mongo import Document
from libs.safe_http import parse_ports
from services.batch.csvfile import CsvError, CsvTable, RowLimits, Utf8Spool
from services.batch.intake import _validate
from services.batch.output import result_csv
from services.batch.repository import JobRepository
from tests.services.batch.test_csv_jobs import auth, batch_settings, parse, upload, wait_finished
from tests.services.enrichment.mesh import Mesh, running_mesh

# Small row limits, and webhooks to the default ports only.
LIMITS = {"batch_max_columns": 20, "batch_max_row_bytes": 2_048, "batch_webhook_allowed_ports": ["80", "443"]}
INJECTIONS = ["\n=1+1", " =1+1", "\uff1d1+1", "+1 415 555 0101", "@SUM(A1)", "\t-2"]


@pytest_asyncio.fixture
async def mesh(db: AsyncDatabase[Document], amqp_url: str) -> AsyncIterator[Mesh]:
    async with running_mesh(db, amqp_url, batch=batch_settings(**LIMITS), csv_sync_max_rows=8) as running:
        yield running


@pytest.mark.parametrize(
    ("row", "line", "what"),
    [
        ("," * 25, 3, "the row has 26 columns, more than the 20 allowed"),
        ("x" * 3_000, 3, "the row is longer than 2,048 bytes"),
        ('"' + "x\n" * 1_500 + '"', 3, "the row is longer than 2,048 bytes"),  # over several lines
    ],
)
async def test_a_too_wide_or_too_long_row_is_a_422_naming_its_line_and_creates_nothing(
    mesh: Mesh, row: str, line: int, what: str
) -> None:
    account, key = await mesh.new_account(credits=10)
    body = f"email,notes\nana@techflow.io,ok\n{row}\nmike.chen@techflow.io,ok\n"
    response = await upload(mesh, key, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_CSV"
    assert error["message"].startswith(f"line {line}: {what}")
    assert (await mesh.http.get("/v1/jobs", headers=auth(key))).json()["jobs"] == []
    assert await mesh.balance(account) == 10


async def test_a_header_wider_than_the_limit_is_refused(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=10)
    header = ",".join(["email", *(f"c{n}" for n in range(30))])
    response = await upload(mesh, key, f"\n{header}\nana@techflow.io\n")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith("line 2: the row has 31 columns")


async def test_rows_within_the_limits_are_padded_to_the_widest_only(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=10)
    response = await upload(mesh, key, "email\nana@techflow.io" + "," * 19 + "\nx@y.io\n")
    assert response.status_code == 200, response.text
    assert {len(row) for row in parse(response.text)} == {20 + 16}


async def test_result_pages_of_long_rows_hold_fewer_rows(mesh: Mesh, db: AsyncDatabase[Document]) -> None:
    _, key = await mesh.new_account(credits=50)
    notes = "n" * 1_500
    body = "email,notes\n" + "".join(f"user{n}@techflow.io,{notes}\n" for n in range(16))
    response = await upload(mesh, key, body)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    await wait_finished(mesh, key, job_id)
    job = await db["batch_jobs"].find_one({"_id": job_id})
    assert job is not None
    longest = len("user10@techflow.io,") + len(notes) + 1
    assert job["longest_row"] == longest
    pieces = [piece async for piece in result_csv(JobRepository(db), job, page_bytes=4 * longest)]
    assert len(pieces) == 1 + 16 // 4  # the header, then pages of 4 rows
    assert all(len(piece) < 5 * longest for piece in pieces)
    whole = await mesh.http.get(f"/v1/jobs/{job_id}/result.csv", headers=auth(key))
    assert b"".join(pieces).decode() == whole.text


def _cells(text: str, column: str) -> list[str]:
    rows = parse(text)
    index = rows[0].index(column)
    return [row[index] for row in rows[1:]]


def _injection_file() -> str:
    lines = "".join(f'ana{n}@techflow.io,"{value}"\n' for n, value in enumerate(INJECTIONS))
    return "email,notes\n" + lines


async def test_formula_cells_are_escaped_by_default_and_kept_when_asked(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=50)
    escaped = await upload(mesh, key, _injection_file())
    assert escaped.status_code == 200, escaped.text
    assert _cells(escaped.text, "notes") == [f"'{value}" for value in INJECTIONS]
    kept = await upload(mesh, key, _injection_file(), params={"escape_formulas": "false"})
    assert kept.status_code == 200, kept.text
    assert _cells(kept.text, "notes") == INJECTIONS
    job = (await mesh.http.get(f"/v1/jobs/{kept.headers['X-Job-Id']}", headers=auth(key))).json()
    assert job["escape_formulas"] is False


async def test_a_job_result_keeps_formulas_when_asked_in_the_query(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=50)
    body = _injection_file() + "".join(f"user{n}@techflow.io,x\n" for n in range(10))  # async: 16 rows
    response = await mesh.http.post(
        "/v1/enrich/csv?escape_formulas=false",
        content=body.encode(),
        headers=auth(key, **{"Content-Type": "text/csv"}),
        timeout=60,
    )
    assert response.status_code == 202, response.text
    assert response.json()["escape_formulas"] is False
    await wait_finished(mesh, key, response.json()["job_id"])
    result = await mesh.http.get(f"/v1/jobs/{response.json()['job_id']}/result.csv", headers=auth(key))
    assert _cells(result.text, "notes")[: len(INJECTIONS)] == INJECTIONS


async def test_escape_formulas_must_be_a_boolean(mesh: Mesh) -> None:
    _, key = await mesh.new_account(credits=10)
    response = await upload(mesh, key, _injection_file(), params={"escape_formulas": "maybe"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_OPTION"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "https://hooks.example.com:8443/x"])
async def test_a_webhook_to_another_port_than_80_or_443_is_a_422_at_creation(mesh: Mesh, url: str) -> None:
    account, key = await mesh.new_account(credits=10)
    response = await upload(mesh, key, "email\nana@techflow.io\n", params={"webhook_url": url})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "WEBHOOK_PORT_NOT_ALLOWED"
    assert "LEADMESH_BATCH_WEBHOOK_ALLOWED_PORTS" in error["message"]
    assert (await mesh.http.get("/v1/jobs", headers=auth(key))).json()["jobs"] == []
    assert await mesh.balance(account) == 10


@pytest.mark.parametrize(
    ("url", "ports", "allowed"),
    [
        ("https://hooks.example.com/x", ["80", "443"], True),
        ("http://hooks.example.com:80/x", ["80", "443"], True),
        ("https://hooks.example.com:444/x", ["80", "443"], False),
        ("https://hooks.example.com:8443/x", ["443", "8000-8999"], True),
        ("http://hooks.example.com/x", ["443"], False),
    ],
)
def test_webhook_ports_follow_the_operator_setting(url: str, ports: list[str], allowed: bool) -> None:
    options = batch_pb.JobOptions(account_id="acct_a", webhook_url=url)
    if allowed:
        _validate(options, parse_ports(ports))
    else:
        with pytest.raises(InvalidArgument) as refused:
            _validate(options, parse_ports(ports))
        assert refused.value.reason == "WEBHOOK_PORT_NOT_ALLOWED"


def test_a_megabyte_of_commas_is_never_split_into_cells(tmp_path: pathlib.Path) -> None:
    """The row is refused after reading ``max_row_bytes`` of it, not after a million cells."""
    path = tmp_path / "wide.csv"
    spool = Utf8Spool(path)
    spool.write(b"email\n" + b"," * 1_000_000 + b"\n")
    spool.close()
    with CsvTable.open(path, RowLimits(max_columns=500, max_row_bytes=65_536)) as table:
        with pytest.raises(CsvError, match=r"^line 2: the row is longer than 65,536 bytes") as caught:
            next(table.rows())
    assert caught.value.metadata == {"line": "2", "max_row_bytes": "65536"}
