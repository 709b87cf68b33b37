"""Uploaded CSV files: UTF-8 spooling, streaming rows with physical line numbers, column
detection, the lead a row describes, and injection-safe output."""

from __future__ import annotations

import csv
import io
import pathlib

import pytest

from libs.errors import InvalidArgument
from services.batch.csvfile import (
    FIELD_SIZE_LIMIT,
    INPUT_FIELDS,
    OUTPUT_COLUMNS,
    CsvEncodingError,
    CsvError,
    CsvRow,
    CsvTable,
    RowLead,
    RowProblem,
    Utf8Spool,
    apply_mapping_override,
    detect_mapping,
    escape_cell,
    lead_from_cells,
    output_header,
    output_row,
    write_csv,
)

# ---------------------------------------------------------------- spooling


def spool(tmp_path: pathlib.Path, data: bytes, chunk: int = 65_536) -> pathlib.Path:
    path = tmp_path / "upload.csv"
    writer = Utf8Spool(path)
    try:
        for start in range(0, len(data), chunk):
            writer.write(data[start : start + chunk])
    finally:
        writer.close()
    assert writer.size == len(data)
    return path


VALID = '\ufeffemail,name\r\njosé@acme.com,José Müller\r\n"x\ny",日本語 😀\rlast,row\n'.encode()


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 65_536])
def test_valid_utf8_is_spooled_byte_for_byte_whatever_the_chunking(
    tmp_path: pathlib.Path, chunk: int
) -> None:
    path = spool(tmp_path, VALID, chunk)
    assert path.read_bytes() == VALID


LATIN1 = "email,name\nann@acme.com,Ann\nbob@acme.com,Jos\xe9 Ruiz\ncid@acme.com,Cid\n".encode("latin-1")


@pytest.mark.parametrize("chunk", [1, 2, 3, 29, 65_536])
def test_a_latin1_byte_names_its_line_and_position(tmp_path: pathlib.Path, chunk: int) -> None:
    with pytest.raises(CsvEncodingError) as caught:
        spool(tmp_path, LATIN1, chunk)
    error = caught.value
    assert error.line == 3
    assert error.metadata == {"line": "3"}
    assert error.reason == "UNSUPPORTED_ENCODING"
    assert isinstance(error, CsvError) and isinstance(error, InvalidArgument)
    assert "line 3" in error.message and "0xe9 at byte 17 of the line" in error.message
    assert "save it as UTF-8" in error.message


@pytest.mark.parametrize("ending", [b"\r\n", b"\r", b"\n"])
@pytest.mark.parametrize("chunk", [1, 4, 65_536])
def test_the_line_counts_crlf_once_and_a_lone_cr_as_a_line_end(
    tmp_path: pathlib.Path, ending: bytes, chunk: int
) -> None:
    data = ending.join([b"a,b", b"1,2", b"", b"3,\xff"])
    with pytest.raises(CsvEncodingError) as caught:
        spool(tmp_path, data, chunk)
    assert caught.value.line == 4
    assert "0xff at byte 3 of the line" in caught.value.message


def test_a_bad_byte_split_across_chunks_is_found_in_the_earlier_chunk(tmp_path: pathlib.Path) -> None:
    writer = Utf8Spool(tmp_path / "upload.csv")
    writer.write(b"h\r\nab\xc3")  # a lead byte, fine so far
    with pytest.raises(CsvEncodingError) as caught:
        writer.write(b"(\r\n")  # not a continuation byte
    writer.close()
    assert caught.value.line == 2
    assert "0xc3 at byte 3 of the line" in caught.value.message


def test_a_bad_last_byte_of_the_file_is_reported(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CsvEncodingError) as caught:
        spool(tmp_path, b"email\nann@acme.com\nJos\xe9")
    assert caught.value.line == 3


def test_a_multibyte_character_cut_short_at_the_end_fails_on_close(tmp_path: pathlib.Path) -> None:
    writer = Utf8Spool(tmp_path / "upload.csv")
    writer.write(b"email\nJos\xc3")  # the first half of "é"
    with pytest.raises(CsvEncodingError) as caught:
        writer.close()
    assert caught.value.line == 2
    assert "0xc3 at byte 4 of the line" in caught.value.message
    writer.close()  # idempotent


def test_a_utf16_file_is_named_as_such(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CsvEncodingError) as caught:
        spool(tmp_path, "email\r\n".encode("utf-16"))
    assert caught.value.line == 1
    assert "UTF-16" in caught.value.message


# ---------------------------------------------------------------- reading


def table_of(tmp_path: pathlib.Path, data: bytes) -> CsvTable:
    return CsvTable.open(spool(tmp_path, data))


def test_bom_crlf_quoted_newlines_commas_and_quotes(tmp_path: pathlib.Path) -> None:
    data = (
        "\ufeff Email , Name ,Notes\r\n"
        'ann@acme.com,"Doe, Ann","said ""hi""\r\nthen left"\r\n'
        'bob@acme.com,Bob,"multi\nline\rcell"\r\n'
        "cid@acme.com,Cid,plain\r\n"
    ).encode()
    with table_of(tmp_path, data) as table:
        assert table.header == ["Email", "Name", "Notes"]
        assert list(table.rows()) == [
            CsvRow(1, 2, ["ann@acme.com", "Doe, Ann", 'said "hi"\r\nthen left']),
            CsvRow(2, 4, ["bob@acme.com", "Bob", "multi\nline\rcell"]),
            CsvRow(3, 7, ["cid@acme.com", "Cid", "plain"]),
        ]


@pytest.mark.parametrize("ending", ["\r\n", "\r", "\n"])
def test_blank_lines_are_not_rows_but_lines_stay_physical(tmp_path: pathlib.Path, ending: str) -> None:
    text = ending.join(["", "", "email,name", "a@x.io,A", "", "", ",,", "b@x.io,B", ""])
    with table_of(tmp_path, text.encode()) as table:
        assert table.header == ["email", "name"]
        rows = list(table.rows())
    assert [(row.number, row.line, row.cells) for row in rows] == [
        (1, 4, ["a@x.io", "A"]),
        (2, 7, ["", "", ""]),
        (3, 8, ["b@x.io", "B"]),
    ]


def test_ragged_rows_come_as_they_are(tmp_path: pathlib.Path) -> None:
    with table_of(tmp_path, b"a,b,c\n1\n1,2,3,4,5\n1,2,3\n") as table:
        assert [row.cells for row in table.rows()] == [["1"], ["1", "2", "3", "4", "5"], ["1", "2", "3"]]


def test_rows_can_be_read_twice(tmp_path: pathlib.Path) -> None:
    with table_of(tmp_path, "\ufeffemail\na@x.io\nb@x.io\n".encode()) as table:
        first = list(table.rows())
        second = list(table.rows())
    assert first == second == [CsvRow(1, 2, ["a@x.io"]), CsvRow(2, 3, ["b@x.io"])]


def test_a_header_only_file_has_zero_rows(tmp_path: pathlib.Path) -> None:
    with table_of(tmp_path, b"email,name\r\n") as table:
        assert table.header == ["email", "name"]
        assert list(table.rows()) == []


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\n\r"])
def test_an_empty_file_is_an_error(tmp_path: pathlib.Path, data: bytes) -> None:
    with pytest.raises(CsvError, match="the file is empty") as caught:
        table_of(tmp_path, data)
    assert caught.value.reason == "INVALID_CSV"


def test_a_header_of_blank_cells_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CsvError, match="the header row is empty") as caught:
        table_of(tmp_path, b"\n , ,\na,b,c\n")
    assert caught.value.line == 2


def test_a_giant_field_is_an_error_naming_its_line(tmp_path: pathlib.Path) -> None:
    giant = "x" * (FIELD_SIZE_LIMIT + 10)
    data = f'email,notes\na@x.io,ok\nb@x.io,"{giant}"\n'.encode()
    with table_of(tmp_path, data) as table:
        rows = table.rows()
        assert next(rows).cells == ["a@x.io", "ok"]
        with pytest.raises(CsvError) as caught:
            next(rows)
    assert caught.value.line == 3 and caught.value.metadata["line"] == "3"
    assert "longer than" in caught.value.message


def test_an_unclosed_quote_swallowing_the_file_is_an_error(tmp_path: pathlib.Path) -> None:
    data = b'email,notes\na@x.io,"oops\n' + b"b@x.io,fine\n" * 20_000
    with table_of(tmp_path, data) as table, pytest.raises(CsvError) as caught:
        list(table.rows())
    assert caught.value.line == 2


# ---------------------------------------------------------------- column detection


def names(header: list[str]) -> dict[str, str]:
    return {field: header[index] for field, index in detect_mapping(header).items()}


def test_hubspot_contacts_export() -> None:
    header = [
        "Record ID",
        "First Name",
        "Last Name",
        "Email",
        "Phone Number",
        "Company Name",
        "Website URL",
        "Job Title",
        "Contact owner",
        "Email Domain",
        "Last Activity Date",
        "Unsubscribed from all email",
    ]
    assert names(header) == {
        "email": "Email",
        "first_name": "First Name",
        "last_name": "Last Name",
        "company_name": "Company Name",
        "company_domain": "Website URL",
    }


def test_salesforce_export_never_takes_email_opt_out() -> None:
    header = [
        "Lead ID",
        "Email Opt Out",
        "First Name",
        "Last Name",
        "Account Name",
        "Email",
        "Website",
        "Lead Status",
        "Account Owner",
    ]
    assert names(header) == {
        "email": "Email",
        "first_name": "First Name",
        "last_name": "Last Name",
        "company_name": "Account Name",
        "company_domain": "Website",
    }


def test_apollo_export() -> None:
    header = [
        "First Name",
        "Last Name",
        "Title",
        "Company",
        "Company Name for Emails",
        "Email Status",
        "Email",
        "Primary Email Source",
        "Email Confidence",
        "Seniority",
        "Contact Owner",
        "Person Linkedin Url",
        "Website",
        "Company Linkedin Url",
        "Twitter Url",
        "Apollo Contact Id",
    ]
    assert names(header) == {
        "email": "Email",
        "first_name": "First Name",
        "last_name": "Last Name",
        "company_name": "Company",
        "company_domain": "Website",
        "linkedin_url": "Person Linkedin Url",
    }


def test_sales_navigator_and_zoominfo_exports() -> None:
    header = [
        "firstName",
        "lastName",
        "fullName",
        "companyName",
        "title",
        "linkedInProfileUrl",
        "companyWebsite",
    ]
    assert names(header) == {
        "first_name": "firstName",
        "last_name": "lastName",
        "full_name": "fullName",
        "company_name": "companyName",
        "linkedin_url": "linkedInProfileUrl",
        "company_domain": "companyWebsite",
    }
    header = [
        "First Name",
        "Last Name",
        "Email Address",
        "Company Name",
        "Website",
        "LinkedIn Contact Profile URL",
    ]
    assert names(header)["linkedin_url"] == "LinkedIn Contact Profile URL"


def test_badge_scanner_exports() -> None:
    header = ["Badge ID", "Scan Time", "Attendee Name", "Organisation", "E-mail", "Title", "Lead Score"]
    assert names(header) == {"email": "E-mail", "full_name": "Attendee Name", "company_name": "Organisation"}
    header = ["Attendee First Name", "Attendee Last Name", "Attendee Email", "Attendee Company", "Rating"]
    assert names(header) == {
        "first_name": "Attendee First Name",
        "last_name": "Attendee Last Name",
        "email": "Attendee Email",
        "company_name": "Attendee Company",
    }


@pytest.mark.parametrize(
    ("field", "spellings"),
    [
        (
            "email",
            [
                "email",
                "e-mail",
                "E-mail Address",
                "Email Address",
                "Work Email",
                "Business Email",
                "Email 1",
                "mail",
                "Contact Email",
                "EMAIL_ADDRESS",
                "Primary Email (Work)",
            ],
        ),
        ("first_name", ["first_name", "First Name", "FirstName", "Given Name", "fname", "first"]),
        ("last_name", ["last_name", "Last Name", "Surname", "Family Name", "lname", "last"]),
        ("full_name", ["name", "Full Name", "Contact Name", "Contact", "Attendee Name", "Person"]),
        (
            "company_name",
            [
                "company",
                "Company Name",
                "Organization",
                "Organisation",
                "Account Name",
                "Employer",
                "Account",
                "Org",
                "Current Company",
            ],
        ),
        (
            "company_domain",
            [
                "domain",
                "Company Domain",
                "Website",
                "Company Website",
                "URL",
                "Web Site",
                "Homepage",
                "Company Website URL",
            ],
        ),
        (
            "linkedin_url",
            [
                "linkedin_url",
                "LinkedIn",
                "LinkedIn Profile",
                "LinkedIn URL",
                "Person Linkedin Url",
                "linkedin profile url",
                "Linked In",
            ],
        ),
    ],
)
def test_each_spelling_is_recognised(field: str, spellings: list[str]) -> None:
    for spelling in spellings:
        assert detect_mapping(["Notes", spelling]) == {field: 1}, spelling


@pytest.mark.parametrize(
    "header",
    [
        "Email Opt Out",
        "Email Status",
        "Email Domain",
        "Unsubscribed from all email",
        "Voicemail",
        "Company Size",
        "Company Linkedin Url",
        "Account Owner",
        "Contact Owner",
        "Last Activity Date",
        "First Seen",
        "Twitter URL",
        "Company Name for Emails",
        "Lead Status",
    ],
)
def test_columns_that_only_look_like_a_field_are_not_taken(header: str) -> None:
    assert detect_mapping([header]) == {}


def test_exact_names_beat_word_matches_and_the_first_column_wins() -> None:
    header = ["Registrant Email", "Email", "Email 2", "Company", "Company", "Name"]
    assert detect_mapping(header) == {"email": 1, "company_name": 3, "full_name": 5}
    assert detect_mapping(["Registrant Email", "Notes"]) == {"email": 0}


def test_a_column_feeds_one_field() -> None:
    assert detect_mapping(["Name", "Name"]) == {"full_name": 0}


# ---------------------------------------------------------------- mapping override

HEADER = ["Email", "Name", "Company", "Account", "Website"]


def test_override_maps_unmaps_and_takes_columns_from_detection() -> None:
    detected = detect_mapping(HEADER)
    assert detected == {"email": 0, "full_name": 1, "company_name": 2, "company_domain": 4}
    mapping = apply_mapping_override(HEADER, detected, {"company_name": " account ", "email": None})
    assert mapping == {"full_name": 1, "company_name": 3, "company_domain": 4}
    mapping = apply_mapping_override(HEADER, detected, {"company_domain": "company"})
    assert mapping == {"email": 0, "full_name": 1, "company_domain": 2}


def test_override_of_an_unknown_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        apply_mapping_override(HEADER, {}, {"phone": "Email"})
    assert "'phone'" in caught.value.message
    assert all(field in caught.value.message for field in INPUT_FIELDS)
    assert caught.value.metadata == {"field": "mapping"}


def test_override_with_a_column_not_in_the_header() -> None:
    with pytest.raises(InvalidArgument) as caught:
        apply_mapping_override(HEADER, {}, {"email": "Work Email"})
    assert "'Work Email'" in caught.value.message
    assert all(repr(name) in caught.value.message for name in HEADER)
    assert caught.value.metadata == {"field": "mapping"}


def test_override_naming_one_column_for_two_fields() -> None:
    with pytest.raises(InvalidArgument, match="'Company'") as caught:
        apply_mapping_override(HEADER, {}, {"company_name": "Company", "company_domain": "company"})
    assert caught.value.metadata == {"field": "mapping"}


# ---------------------------------------------------------------- the lead of a row

MAPPING = {field: index for index, field in enumerate(INPUT_FIELDS)}


def lead(**values: str) -> RowLead | RowProblem:
    return lead_from_cells([values.get(field, "") for field in INPUT_FIELDS], MAPPING)


def full(**values: str) -> RowLead:
    return RowLead(**{field: values.get(field, "") for field in INPUT_FIELDS})


def test_cells_are_stripped_and_short_rows_are_padded() -> None:
    assert lead_from_cells(["  ann@acme.com  ", " Ann "], MAPPING) == full(
        email="ann@acme.com", first_name="Ann"
    )


def test_a_company_name_that_is_a_domain_goes_to_the_domain() -> None:
    assert lead(company_name="Acme.com") == full(company_domain="acme.com")
    assert lead(company_name="www.acme.co.uk") == full(company_domain="acme.co.uk")
    assert lead(company_name="J.Crew") == full(company_name="J.Crew")
    assert lead(company_name="Acme Inc.") == full(company_name="Acme Inc.")
    assert lead(company_name="acme.com", company_domain="acme.io") == full(
        company_name="acme.com", company_domain="acme.io"
    )


def test_a_domain_given_as_a_url_is_reduced_to_its_host() -> None:
    assert lead(company_domain="https://www.Acme.com/about?x=1") == full(company_domain="acme.com")
    assert lead(company_domain="http://shop.acme.co.uk:8080") == full(company_domain="shop.acme.co.uk")


def test_a_linkedin_url_in_the_domain_column_is_a_linkedin_url() -> None:
    url = "https://www.linkedin.com/in/ann-doe"
    assert lead(company_domain=url) == full(linkedin_url=url)


def test_a_field_longer_than_320_characters() -> None:
    assert lead(email="a@x.io", company_name="x" * 321) == RowProblem(
        "column 'company_name' is longer than 320 characters"
    )
    assert isinstance(lead(email="a@x.io", company_name="x" * 320), RowLead)


def test_an_email_without_at() -> None:
    assert lead(email="foo") == RowProblem("'foo' is not an email address")
    assert lead(email="foo", first_name="Ann") == RowProblem("'foo' is not an email address")
    assert lead(email="foo", company_name="Acme") == full(company_name="Acme")


@pytest.mark.parametrize(
    "values",
    [
        {"email": "ann@acme.com"},
        {"full_name": "Ann Doe", "company_name": "Acme"},
        {"first_name": "Ann", "last_name": "Doe", "company_domain": "acme.com"},
        {"last_name": "Doe", "company_name": "Acme"},
        {"company_name": "Acme"},
        {"company_domain": "acme.com"},
        {"linkedin_url": "https://www.linkedin.com/in/ann-doe"},
    ],
)
def test_usable_rows(values: dict[str, str]) -> None:
    assert isinstance(lead(**values), RowLead)


@pytest.mark.parametrize(
    "values",
    [
        {"full_name": "Ann Doe"},
        {"first_name": "Ann", "last_name": "Doe"},
        {"linkedin_url": "https://twitter.com/ann"},
    ],
)
def test_rows_without_a_usable_identifier(values: dict[str, str]) -> None:
    assert lead(**values) == RowProblem(
        "no usable identifier: needs an email, a name with a company, a company or domain, or a LinkedIn URL"
    )


def test_an_empty_row() -> None:
    assert lead_from_cells(["", "  ", ""], MAPPING) == RowProblem("empty row")
    assert lead_from_cells([], MAPPING) == RowProblem("empty row")
    assert lead_from_cells(["", "", "", "", "", "", "", "a note"], MAPPING) != RowProblem("empty row")


# ---------------------------------------------------------------- output


@pytest.mark.parametrize(
    "value",
    [
        *("=1+1", "+1 555 0100", "-2", "@SUM(A1)", "\tx", "\rx", "\nx", '=HYPERLINK("x")'),
        *("\n=1", " =1+1", "\u3000=1", "\xa0@x", "\uff1d1+1", "\uff0b1", "\uff0d2", "\uff20SUM(A1)", " \t-1"),
    ],
)
def test_dangerous_prefixes_are_escaped(value: str) -> None:
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize(
    "value", ["", " ", "Ann", "ann@acme.com", "1+1", "a=b", " x=1", "'quoted", "\uff41=b"]
)
def test_harmless_values_are_unchanged(value: str) -> None:
    assert escape_cell(value) == value


def test_output_header_names_extra_columns_then_appends_ours() -> None:
    assert output_header(["email", "=cmd"], 4) == ["email", "'=cmd", "column_3", "column_4", *OUTPUT_COLUMNS]
    assert output_header(["a", "b"], 2) == ["a", "b", *OUTPUT_COLUMNS]


def test_output_row_pads_never_cuts_and_escapes() -> None:
    assert output_row(["a"], 3, ["1", "=x"]) == ["a", "", "", "1", "'=x"]
    assert output_row(["a", "b", "c"], 2, ["1"]) == ["a", "b", "c", "1"]


def test_write_csv_round_trips() -> None:
    rows = [["a", "b,c", 'say "hi"', "multi\nline"], ["", "-", "x", "y"]]
    text = write_csv(rows)
    assert text.endswith("\r\n") and text.startswith('a,"b,c","say ""hi""","multi\nline"\r\n')
    assert list(csv.reader(io.StringIO(text, newline=""))) == rows
