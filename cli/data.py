"""``leadmesh data``: load the directory (the customer's own people and companies).

``leadmesh data import FILE`` reads CSV or JSON Lines, maps columns by name, and reports every
rejected row with its line and reason; ``leadmesh data seed-demo`` writes a deterministic demo
directory (every domain under ``.example``, see :mod:`services.providers.demo`). Both write
straight to the providers' collections of the running stack (or of LEADMESH_MONGODB_URI) through
the providers repository, in bulk.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from cli.state import home_dir, privacy_secret, store_target
from libs.mongo import Document, connect, ping
from libs.privacy import SubjectHasher
from services.providers.demo import DEMO_SOURCE, DemoDirectory, demo_directory
from services.providers.importer import DirectoryImport, ImportReport, Rejected, map_columns
from services.providers.repository import DirectoryRepository
from services.providers.suppressions import SuppressionList

__all__ = ["add_data_parser", "replace_demo_directory", "run_data"]

# Rejected rows printed in the text report (all are in --json).
SHOWN_REJECTIONS = 50


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - the CLI talks to its user


def add_data_parser(commands: Any) -> None:
    data = commands.add_parser("data", help="load the directory of people and companies").add_subparsers(
        dest="action", required=True
    )
    load = data.add_parser("import", help="import people and companies from a CSV or JSON Lines file")
    load.add_argument("file", metavar="FILE", type=Path)
    load.add_argument("--format", choices=("csv", "jsonl"), help="default: from the file name")
    load.add_argument("--source", default="", help="label stored with the records (default: the file name)")
    load.add_argument("--json", action="store_true")
    seed = data.add_parser(
        "seed-demo", help="write a deterministic demo directory (Faker names, every domain under .example)"
    )
    seed.add_argument("--companies", type=int, default=3000)
    seed.add_argument("--people", type=int, default=30000)
    seed.add_argument("--seed", type=int, default=4242)
    seed.add_argument("--json", action="store_true")


def _csv_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(64 * 1024)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(handle, dialect=dialect, restkey="\0extra")
        for row in reader:
            yield reader.line_num, row


def _jsonl_rows(path: Path, rejected: list[Rejected]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                rejected.append(Rejected(number, f"invalid JSON: {error.msg}"))
                continue
            if not isinstance(row, dict):
                rejected.append(Rejected(number, "a line must be a JSON object"))
                continue
            yield number, row


def _format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "csv"


async def _suppressed(repository: DirectoryRepository) -> Callable[[Document], bool] | None:
    """Who the import must refuse: the people erased from leadmesh (None when nobody was)."""
    secret = privacy_secret(home_dir())
    suppressions = SuppressionList(repository.db, SubjectHasher(secret) if secret else None)
    if await suppressions.collection.count_documents({"account_id": ""}, limit=1) == 0:
        return None
    if secret is None:
        raise ValueError(
            "people were erased from this store: set LEADMESH_PRIVACY_HASH_SECRET (or run from the "
            "directory of `leadmesh up`) so that the import can refuse them"
        )
    await suppressions.reload()

    def suppressed(person: Document) -> bool:
        return suppressions.blocks("", person.get("email", ""), person.get("linkedin_url", ""))

    return suppressed


async def _import(repository: DirectoryRepository, args: argparse.Namespace) -> dict[str, Any]:
    path: Path = args.file
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    kind = _format(path, args.format)
    source = args.source or f"import:{path.name}"
    parse_errors: list[Rejected] = []
    loader: DirectoryImport
    mapping: dict[str, str] = {}
    if kind == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
        mapping = map_columns(header)
        if not mapping:
            raise ValueError(
                f"no column of {path.name} is one we know (e.g. email, first_name, company, domain)"
            )
        if not args.json:
            say("columns: " + ", ".join(f"{column} -> {field}" for column, field in mapping.items()))
            ignored = [column for column in header if column not in mapping]
            if ignored:
                say("ignored columns: " + ", ".join(ignored))
        loader = DirectoryImport(repository, source, mapping, await _suppressed(repository))
        for line, row in _csv_rows(path):
            if "\0extra" in row:
                loader.report.rows += 1
                loader.report.rejected.append(Rejected(line, "more fields than the header has columns"))
                continue
            await loader.add(line, row)
    else:
        loader = DirectoryImport(repository, source, suppressed=await _suppressed(repository))
        await loader.add_all(_jsonl_rows(path, parse_errors))
    report = await loader.finish()
    report.rows += len(parse_errors)
    report.rejected = sorted([*report.rejected, *parse_errors], key=lambda r: r.line)
    return _report_payload(report, source, mapping)


def _report_payload(report: ImportReport, source: str, mapping: Mapping[str, str]) -> dict[str, Any]:
    return {
        "source": source,
        "rows": report.rows,
        "people": report.people,
        "companies": report.companies,
        "rejected": [{"line": r.line, "reason": r.reason} for r in report.rejected],
        "columns": dict(mapping),
    }


async def _seed(repository: DirectoryRepository, args: argparse.Namespace) -> dict[str, Any]:
    if args.companies < 1 or args.people < args.companies:
        raise ValueError("--companies must be at least 1 and --people at least --companies")
    started = time.monotonic()
    directory = demo_directory(seed=args.seed, companies=args.companies, people=args.people)
    await replace_demo_directory(repository, directory)
    return {
        "seed": args.seed,
        "companies": len(directory.companies),
        "people": len(directory.people),
        "seconds": round(time.monotonic() - started, 1),
    }


async def replace_demo_directory(repository: DirectoryRepository, directory: DemoDirectory) -> None:
    """Replaces the previous demo data whole (the same seed gives the same records)."""
    await repository.people.delete_many({"source": DEMO_SOURCE})
    await repository.companies.delete_many({"source": DEMO_SOURCE})
    await repository.insert_companies(directory.companies)
    await repository.insert_people(directory.people)


def _print_report(action: str, payload: dict[str, Any]) -> None:
    if action == "seed-demo":
        say(
            f"seeded {payload['companies']} companies and {payload['people']} people "
            f"(seed {payload['seed']}) in {payload['seconds']}s"
        )
        return
    rejected = payload["rejected"]
    say(
        f"imported {payload['rows'] - len(rejected)} of {payload['rows']} rows: {payload['people']} people, "
        f"{payload['companies']} companies; {len(rejected)} rejected"
    )
    for row in rejected[:SHOWN_REJECTIONS]:
        say(f"  line {row['line']}: {row['reason']}")
    if len(rejected) > SHOWN_REJECTIONS:
        say(f"  ... and {len(rejected) - SHOWN_REJECTIONS} more (--json lists them all)")


async def run_data(args: argparse.Namespace) -> int:
    uri, database = store_target()
    client: AsyncMongoClient[Document] = connect(
        uri, app_name="cli", timeout_ms=3000, operation_timeout_ms=120_000
    )
    try:
        try:
            await ping(client[database])
        except PyMongoError:
            say(f"cannot reach the store at {uri}: run `leadmesh up` or set LEADMESH_MONGODB_URI")
            return 2
        repository = DirectoryRepository(client[database])
        await repository.ensure_indexes()
        try:
            if args.action == "import":
                payload = await _import(repository, args)
            else:
                payload = await _seed(repository, args)
        except (OSError, ValueError, UnicodeDecodeError) as error:
            say(f"leadmesh data {args.action}: {error}")
            return 1
    finally:
        await client.close()
    if args.json:
        say(json.dumps(payload))
    else:
        _print_report(args.action, payload)
    everything_rejected = (
        args.action == "import" and payload["rows"] and len(payload["rejected"]) == payload["rows"]
    )
    return 1 if everything_rejected else 0
