"""libs.normalize titles: a few hundred real-world titles -> standard form, seniority, department."""

from __future__ import annotations

from pathlib import Path

import pytest

from libs.normalize import Department, Seniority, normalize_title

TABLE = Path(__file__).parent / "data" / "titles.tsv"


def _rows() -> list[tuple[str, str, str, str | None]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        rows.append((cells[0], cells[1], cells[2], cells[3] if len(cells) > 3 else None))
    return rows


ROWS = _rows()


def test_the_table_is_a_few_hundred_distinct_titles() -> None:
    raws = [row[0] for row in ROWS]
    assert len(raws) >= 300
    assert len(set(raws)) == len(raws), "a title is listed twice"


@pytest.mark.parametrize(("raw", "seniority", "department", "standard"), ROWS, ids=[r[0] for r in ROWS])
def test_title(raw: str, seniority: str, department: str, standard: str | None) -> None:
    title = normalize_title(raw)
    assert title.seniority == Seniority(seniority)
    assert title.department == (None if department == "-" else Department(department))
    if standard is not None:
        assert title.title == standard
    assert title.raw == raw


def test_the_example_of_the_issue() -> None:
    title = normalize_title("Sr. Dir. RevOps")
    assert title.title == "Senior Director of Revenue Operations"
    assert title.seniority is Seniority.DIRECTOR
    assert title.department is Department.REVENUE_OPERATIONS


def test_spellings_of_one_role_share_one_standard_form() -> None:
    spellings = ["VP Sales", "V.P. of Sales", "Vice-President, Sales", "Sales VP", "vp sales"]
    assert {normalize_title(s).title for s in spellings} == {"Vice President of Sales"}


def test_an_empty_title_has_no_seniority() -> None:
    assert normalize_title("   ") == normalize_title("   ")
    empty = normalize_title("")
    assert (empty.title, empty.seniority, empty.department) == ("", None, None)


def test_seniorities_are_ordered() -> None:
    order = [s.rank for s in (Seniority.ENTRY, Seniority.MANAGER, Seniority.VP, Seniority.OWNER)]
    assert order == sorted(order)
    assert Seniority.C_LEVEL.value == "c_level"
