"""`leadmesh data seed-demo` writes no domain outside `.example`: not in a company's domain, an
email address, a URL or a lookup key, nested contacts included."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from libs.normalize import host_name, normalize_domain

_TOKENS = re.compile(r"[\s|,;<>()\"']+")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def domains_in(text: str) -> set[str]:
    """Every domain a string names: an email's, a URL's host, or a bare host name."""
    found = set()
    for token in filter(None, _TOKENS.split(text)):
        if "://" in token or "@" in token or "." in token:
            host = host_name(token.rpartition("@")[2] if "://" not in token else token)
            if host is not None and normalize_domain(host) is not None:
                found.add(host)
    return found


def test_domains_in_finds_what_it_must() -> None:
    assert domains_in("jane@acme.com") == {"acme.com"}
    assert domains_in("https://www.linkedin.com/in/jane") == {"linkedin.com"}
    assert domains_in("jane doe|acme.co.uk") == {"acme.co.uk"}
    assert domains_in("Sr. Account Exec, EMEA") == set()


async def test_seed_demo_writes_no_domain_outside_example(
    db: AsyncDatabase[Document], mongo_uri: str, tmp_path: Path, repo_root: Path
) -> None:
    env = {
        **os.environ,
        "LEADMESH_MONGODB_URI": mongo_uri,
        "LEADMESH_MONGODB_DATABASE": db.name,
        "LEADMESH_HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "data", "seed-demo", "--companies", "60", "--people", "900"],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo_root,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    domains: set[str] = set()
    for collection in ("providers_companies", "providers_people"):
        async for document in db[collection].find({}):
            for text in _strings(document):
                domains |= domains_in(text)
    assert len(domains) == 61  # every company's, and the disposable-mail service's
    assert {domain for domain in domains if not domain.endswith(".example")} == set()
    assert "tempinbox.example" in domains
