"""libs.normalize domains and emails: registered domains from the bundled suffix list, offline."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from libs.normalize import (
    as_company_domain,
    company_domain_from_email,
    email_domain,
    is_free_email_domain,
    normalize_domain,
    normalize_email,
)


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("acme.com", "acme.com"),
        ("https://www.Acme.co.uk/about?x=1", "acme.co.uk"),
        ("http://mail.eu.acme.com:8080/", "acme.com"),
        ("WWW.TECHFLOW.IO", "techflow.io"),
        ("jane@sales.acme.com.au", "acme.com.au"),
        ("startup.io.", "startup.io"),
        ("münchen-gmbh.de", "xn--mnchen-gmbh-thb.de"),
        ("localhost", None),
        ("127.0.0.1", None),
        ("http://[::1]/", None),
        ("not a domain", None),
        ("", None),
        ("co.uk", None),
        ("mail.Northwind.example", "northwind.example"),  # reserved for documentation (RFC 2606)
        ("jane@acme.test", "acme.test"),
        ("example", None),
        (".example", None),
    ],
)
def test_normalize_domain(raw: str, domain: str | None) -> None:
    assert normalize_domain(raw) == domain


@pytest.mark.parametrize(
    ("company", "domain"),
    [
        ("acme.com", "acme.com"),
        ("Booking.com", "booking.com"),  # a company named after its domain: the domain serves
        ("www.acme.com", "acme.com"),
        ("https://acme.com/about", "acme.com"),
        ("HTTP://WWW.Acme.co.uk:8080/about?x=1", "acme.co.uk"),
        ("sub.acme.co.uk", "sub.acme.co.uk"),
        ("  acme.io ", "acme.io"),
        ("J.Crew", None),  # host-name syntax, but there is no .crew suffix
        ("E.ON", None),
        ("acme.example", "acme.example"),  # reserved for documentation (RFC 2606): the demo's names
        ("https://www.Northwind.test/about", "northwind.test"),
        ("example", None),
        ("co.uk", None),  # a suffix alone
        ("Yahoo!", None),
        ("Acme Inc.", None),
        ("St. John", None),
        ("A.B. Dick", None),
        ("acme.com Inc", None),
        ("1.2.3.4", None),
        ("http://[::1]/", None),
        ("acme", None),
        ("", None),
    ],
)
def test_a_company_field_holds_a_domain_or_a_name(company: str, domain: str | None) -> None:
    """The one rule the gateway's ``company`` field and a CSV's company column both follow."""
    assert as_company_domain(company) == domain


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("Jane@Acme.COM", "jane@acme.com"),
        ("  mailto:jane.doe+news@acme.com ", "jane.doe+news@acme.com"),
        ('"Jane Doe" <Jane.Doe@Acme.com>', "jane.doe@acme.com"),
        ("jane@@acme.com", None),
        ("jane@acme", None),
        ("jane.@acme.com", None),
        ("@acme.com", None),
        ("jane@acme..com", None),
        ("jane doe@acme.com", None),
    ],
)
def test_normalize_email(raw: str, email: str | None) -> None:
    assert normalize_email(raw) == email


def test_an_email_names_its_company_unless_it_is_a_free_mailbox() -> None:
    assert email_domain("mike.chen@eu.techflow.io") == "techflow.io"
    assert company_domain_from_email("mike.chen@eu.techflow.io") == "techflow.io"
    assert company_domain_from_email("mike.chen@gmail.com") is None
    assert company_domain_from_email("someone@yahoo.co.uk") is None
    assert is_free_email_domain("https://www.outlook.com")
    assert not is_free_email_domain("acme.com")


def test_the_suffix_list_is_the_bundled_one_and_nothing_is_fetched(tmp_path: Path) -> None:
    """A fresh interpreter that may not open a socket nor write a file normalises domains."""
    probe = textwrap.dedent(
        """
        import sys

        def guard(event, args):
            if event.startswith("socket.") and event != "socket.__new__":
                raise RuntimeError(f"network touched: {event} {args!r}")
            if event == "open" and isinstance(args[0], str) and args[1] not in (None, "r", "rb"):
                if not args[0].startswith("/dev/"):
                    raise RuntimeError(f"file written: {args!r}")

        sys.addaudithook(guard)
        from libs.normalize import normalize_domain
        assert normalize_domain("https://www.acme.co.uk/x") == "acme.co.uk"
        assert normalize_domain("shop.example.com.br") == "example.com.br"
        print("ok")
        """
    )
    env = {**os.environ, "TLDEXTRACT_CACHE": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert not (tmp_path / "cache").exists()
