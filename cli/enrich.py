"""``leadmesh enrich``: a CSV file, or one lead, enriched through the Python SDK.

``leadmesh enrich leads.csv`` uploads the file; a small one comes back at once, a large one is a
job whose progress is a bar on a terminal (rows done of total, rate, time left) or a plain line
per change otherwise; Ctrl-C asks whether to cancel it. The enriched file is written (by default
``<name>-enriched.csv``) and summed up: rows by status, credits used. ``leadmesh enrich --email
jane@acme.com`` prints the record readably (or the API's answer with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from cli.answers import lead_answer_lines
from cli.enrich_setup import KEY_FILE, LEAD_INPUTS, target
from cli.progress import RowProgress
from cli.state import home_dir
from leadmesh_client import APIStatusError, AuthenticationError, CsvResult, Job, Leadmesh, LeadmeshError

__all__ = ["run_enrich"]


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # noqa: T201 - the CLI's output


def _out(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - the CLI's output


def run_enrich(args: argparse.Namespace) -> int:
    lead = {name: getattr(args, name) for name in LEAD_INPUTS if getattr(args, name)}
    if args.file is None and not lead:
        _err("leadmesh enrich: give a CSV file, or one lead (--email, --name with --company, ...)")
        return 2
    if args.file is not None and lead:
        _err("leadmesh enrich: give a file or one lead's inputs, not both")
        return 2
    if args.file is not None and not args.file.is_file():
        _err(f"leadmesh enrich: no such file: {args.file}")
        return 2
    mapping = None
    if args.mapping:
        try:
            mapping = json.loads(args.mapping)
        except ValueError as exc:
            _err(f"leadmesh enrich: --mapping is not JSON: {exc}")
            return 2
    found = asyncio.run(target(args.api_key, args.base_url, home_dir()))
    if found.api_key is None:
        _err(
            "leadmesh enrich: no API key: pass --api-key, set LEADMESH_API_KEY, "
            "or run it where `leadmesh up` runs (its .leadmesh/)"
        )
        return 2
    _err(f"API key: {found.key_source}; gateway {found.base_url}")
    fields = [f.strip() for f in args.fields.split(",") if f.strip()] if args.fields else None
    with Leadmesh(found.api_key, base_url=found.base_url) as client:
        try:
            if args.file is None:
                return _one_lead(client, args, lead, fields)
            return _file(client, args, fields, mapping)
        except LeadmeshError as exc:
            if args.json and isinstance(exc, APIStatusError) and exc.body is not None:
                _out(json.dumps(exc.body))
            _err(f"leadmesh enrich: {exc}")
            if isinstance(exc, AuthenticationError) and found.key_source.startswith("the local stack's"):
                _err(f"(the key kept in {home_dir() / KEY_FILE} is not this stack's: delete that file)")
            return 1


def _one_lead(
    client: Leadmesh, args: argparse.Namespace, lead: dict[str, str], fields: list[str] | None
) -> int:
    result = client.enrich.lead(
        email=lead.get("email"),
        first_name=lead.get("first_name"),
        last_name=lead.get("last_name"),
        name=lead.get("name"),
        company=lead.get("company"),
        company_domain=lead.get("company_domain"),
        linkedin_url=lead.get("linkedin_url"),
        fields=fields,
        skip_icp=args.skip_icp or None,
        max_contacts=args.max_contacts,
    )
    if args.json:
        _out(json.dumps(result, indent=2))
    else:
        for line in lead_answer_lines(200, result):
            _out(line)
    return 0


def _file(
    client: Leadmesh, args: argparse.Namespace, fields: list[str] | None, mapping: dict[str, Any] | None
) -> int:
    source: Path = args.file
    output: Path = args.output or source.with_name(f"{source.stem}-enriched.csv")
    output.parent.mkdir(parents=True, exist_ok=True)
    started = client.enrich.csv(
        source,
        fields=fields,
        skip_icp=args.skip_icp or None,
        mapping=mapping,
        webhook_url=args.webhook_url,
        wait=False,
        output=output,
    )
    result = started
    if started.job is not None and not started.job.finished:
        _err(f"{source.name}: {started.total_rows} rows, job {started.job_id}")
        job = _follow(client, started.job, args.poll_interval, source.name)
        if job is None:
            return 130
        if job.status != "succeeded":
            _err(
                f"{source.name}: the job {job.status}"
                + (f": {job.error.message}" if job.get("error") else "")
            )
            return 1
        result = client.jobs.download(job.id, output, job=job)
    _summary(source, result, output)
    return 0


def _follow(client: Leadmesh, job: Job, poll_interval: float, name: str) -> Job | None:
    """The job once it ended, with its progress shown; None when Ctrl-C cancelled it or left it."""
    progress = RowProgress(name, job.total_rows, sys.stderr)
    while True:
        try:
            with progress:
                return client.jobs.wait(job.id, on_progress=progress.update, poll_interval=poll_interval)
        except KeyboardInterrupt:
            answer = _ask(f"\ncancel the job {job.id}? [y/N] ")
            if answer is None:
                _err(f"the job {job.id} goes on; `leadmesh enrich` left it")
                return None
            if answer in {"y", "yes"}:
                cancelled = client.jobs.cancel(job.id)
                _err(f"the job {cancelled.id} is {cancelled.status} ({cancelled.credits_used} credits used)")
                return None
            _err("going on")


def _ask(question: str) -> str | None:
    """The answer, lower-cased; None when there is nobody to answer (no input, another Ctrl-C)."""
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        line = sys.stdin.readline()
    except KeyboardInterrupt:
        return None
    return line.strip().lower() if line else None


def _summary(source: Path, result: CsvResult, output: Path) -> None:
    with output.open(newline="", encoding="utf-8") as file:
        statuses = Counter(row.get("status", "") for row in csv.DictReader(file))
    counts = ", ".join(f"{count} {status}" for status, count in statuses.most_common())
    used = result.credits_used
    rows = sum(statuses.values())
    _out(f"{source.name}: {rows} rows: {counts}; {used} credit{'' if used == 1 else 's'} used")
    _out(f"written to {output}")
