"""Every operation of the API, written once as a plan (see ``_core``) or a list of pages."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from leadmesh_client._answer import (
    Answer,
    Credits,
    CsvRowResult,
    EnrichmentResult,
    IcpProfile,
    Job,
    LedgerEntry,
    SignalsResult,
    WebhookSecret,
)
from leadmesh_client._core import Call, Plan, Reply, Sleep, Upload

__all__ = ["CsvResult", "Pages", "ProgressCallback"]

A = TypeVar("A", bound=Answer)
ProgressCallback = Callable[[int, int], object]
# The gateway answers a small file itself after enriching it (csv_sync_timeout, 300 s by default).
UPLOAD_TIMEOUT = 330.0
RESULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Pages(Generic[A]):
    """A listing: its first call, the key of the items in each page, and their class."""

    first: Call
    key: str
    kind: type[A]

    def items(self, body: Any) -> list[A]:
        return [self.kind(item) for item in (body or {}).get(self.key) or []]


@dataclass(frozen=True)
class CsvResult:
    """The outcome of a CSV upload or download: the job's figures and, once it has ended, the
    enriched file (written to ``output``, else in ``text``). A job still running (``wait=False``)
    has ``job`` and neither."""

    job_id: str
    status: str
    total_rows: int
    credits_used: int
    mapping: dict[str, str] = field(default_factory=dict)
    job: Job | None = None
    output: Path | None = None
    text: str | None = None


def _got(reply: Reply | None) -> Reply:
    assert reply is not None, "a call's plan was sent no reply"
    return reply


def _lead_body(**inputs: Any) -> dict[str, Any]:
    return {name: value for name, value in inputs.items() if value is not None}


def enrich_lead(
    *,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    name: str | None = None,
    company: str | None = None,
    company_domain: str | None = None,
    linkedin_url: str | None = None,
    fields: Sequence[str] | None = None,
    skip_icp: bool | None = None,
    max_contacts: int | None = None,
    refresh: bool | None = None,
    idempotency_key: str | None = None,
) -> Plan[EnrichmentResult]:
    """One lead enriched and scored (1 credit, 11 with ``phone``; ``not_found`` is free)."""
    body = _lead_body(
        email=email,
        first_name=first_name,
        last_name=last_name,
        name=name,
        company=company,
        company_domain=company_domain,
        linkedin_url=linkedin_url,
        fields=list(fields) if fields is not None else None,
        skip_icp=skip_icp,
        max_contacts=max_contacts,
        refresh=refresh,
    )
    reply = yield Call.post("/v1/enrich/lead", idempotency_key, json=body)
    return EnrichmentResult(_got(reply).json())


def enrich_csv_row(
    *,
    email: str | None = None,
    name: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    company: str | None = None,
    linkedin_url: str | None = None,
    row_number: int | None = None,
    total_rows: int | None = None,
    row_ref: str | None = None,
    fields: Sequence[str] | None = None,
    idempotency_key: str | None = None,
) -> Plan[CsvRowResult]:
    """One row of a caller's file enriched, answered in the CSV row's shape."""
    body = _lead_body(
        email=email,
        name=name,
        first_name=first_name,
        last_name=last_name,
        company=company,
        linkedin_url=linkedin_url,
        row_number=row_number,
        total_rows=total_rows,
        row_ref=row_ref,
        fields=list(fields) if fields is not None else None,
    )
    reply = yield Call.post("/v1/enrich/csv_row", idempotency_key, json=body)
    return CsvRowResult(_got(reply).json())


def get_enrichment(enrichment_id: str) -> Plan[EnrichmentResult]:
    reply = yield Call("GET", f"/v1/enrichments/{enrichment_id}")
    return EnrichmentResult(_got(reply).json())


@contextmanager
def _opened(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[tuple[str, IO[bytes]]]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as file:
            yield path.name, file
    else:
        yield Path(str(getattr(source, "name", "") or "leads.csv")).name, source


def _output(output: str | os.PathLike[str] | IO[bytes] | None) -> Path | IO[bytes] | None:
    return Path(output) if isinstance(output, str | os.PathLike) else output


def _file_result(reply: Reply, output: Path | IO[bytes] | None, job: Job | None = None) -> CsvResult:
    headers = reply.headers
    try:
        mapping = json.loads(headers.get("x-column-mapping") or "{}")
    except ValueError:
        mapping = {}
    return CsvResult(
        job_id=headers.get("x-job-id", ""),
        status=headers.get("x-job-status", ""),
        total_rows=int(headers.get("x-rows-total") or 0),
        credits_used=int(headers.get("x-credits-used") or 0),
        mapping=mapping if isinstance(mapping, dict) else {},
        job=job,
        output=output if isinstance(output, Path) else None,
        text=None if output is not None else reply.content.decode("utf-8"),
    )


def enrich_csv(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    fields: Sequence[str] | None = None,
    skip_icp: bool | None = None,
    mapping: Mapping[str, str | None] | None = None,
    webhook_url: str | None = None,
    wait: bool = True,
    on_progress: ProgressCallback | None = None,
    output: str | os.PathLike[str] | IO[bytes] | None = None,
    poll_interval: float = 1.0,
    idempotency_key: str | None = None,
) -> Plan[CsvResult]:
    """A CSV file (a path or a binary file) enriched. A small file is answered at once; a large one
    becomes a job, polled every ``poll_interval`` seconds until it ends (``on_progress(done,
    total)`` after each poll) unless ``wait`` is false, then its result is streamed to ``output``
    (or kept in ``CsvResult.text``)."""
    form = _lead_body(
        fields=",".join(fields) if fields is not None else None,
        skip_icp=("true" if skip_icp else "false") if skip_icp is not None else None,
        mapping=json.dumps(dict(mapping)) if mapping is not None else None,
        webhook_url=webhook_url,
    )
    target = _output(output)
    with _opened(file) as (name, handle):
        upload = Upload(name, handle, handle.tell())
        call = Call.post(
            "/v1/enrich/csv", idempotency_key, upload=upload, form=form, output=target, timeout=UPLOAD_TIMEOUT
        )
        reply = _got((yield call))
    if reply.status == 200:
        result = _file_result(reply, target)
        if on_progress is not None:
            on_progress(result.total_rows, result.total_rows)
        return result
    job = Job(reply.json())
    if wait:
        job = yield from wait_job(job.id, on_progress=on_progress, poll_interval=poll_interval, job=job)
        if job.status == "succeeded":
            return (yield from download_job(job.id, output, job=job))
    return CsvResult(
        job_id=job.id, status=job.status, total_rows=job.total_rows, credits_used=job.credits_used, job=job
    )


def get_job(job_id: str) -> Plan[Job]:
    reply = yield Call("GET", f"/v1/jobs/{job_id}")
    return Job(_got(reply).json())


def cancel_job(job_id: str) -> Plan[Job]:
    reply = yield Call("DELETE", f"/v1/jobs/{job_id}")
    return Job(_got(reply).json())


def wait_job(
    job_id: str,
    *,
    on_progress: ProgressCallback | None = None,
    poll_interval: float = 1.0,
    job: Job | None = None,
) -> Plan[Job]:
    """The job once it has ended, polled every ``poll_interval`` seconds."""
    while True:
        if job is None or not job.finished:
            if job is not None:
                yield Sleep(poll_interval)
            job = Job(_got((yield Call("GET", f"/v1/jobs/{job_id}"))).json())
        if on_progress is not None:
            on_progress(job.done_rows, job.total_rows)
        if job.finished:
            return job


def download_job(
    job_id: str, output: str | os.PathLike[str] | IO[bytes] | None = None, *, job: Job | None = None
) -> Plan[CsvResult]:
    """A finished job's enriched CSV, streamed to ``output`` (else returned in ``text``)."""
    target = _output(output)
    reply = yield Call("GET", f"/v1/jobs/{job_id}/result.csv", output=target, timeout=RESULT_TIMEOUT)
    return _file_result(_got(reply), target, job)


def list_jobs(*, page_size: int = 100) -> Pages[Job]:
    return Pages(Call("GET", "/v1/jobs", params={"page_size": page_size}), "jobs", Job)


def get_icp(*, version: int | None = None) -> Plan[IcpProfile]:
    reply = yield Call("GET", "/v1/icp", params={"version": version})
    return IcpProfile(_got(reply).json())


def update_icp(profile: Mapping[str, Any], *, if_match: int | str | None = None) -> Plan[IcpProfile]:
    """Replaces the profile (a new version); with ``if_match`` only while that version is current
    (else ``ConflictError``). The server's fields of a profile read before (version, ...) are left out."""
    body = {k: v for k, v in profile.items() if k not in {"version", "is_default", "created_at", "livemode"}}
    headers = {"If-Match": f'"{if_match}"'} if if_match is not None else {}
    reply = yield Call("PUT", "/v1/icp", json=body, headers=headers, retry_unsent_only=if_match is not None)
    return IcpProfile(_got(reply).json())


def icp_versions(*, page_size: int = 100) -> Pages[IcpProfile]:
    return Pages(Call("GET", "/v1/icp/versions", params={"page_size": page_size}), "versions", IcpProfile)


def send_signals(
    events: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
) -> Plan[SignalsResult]:
    """Web activity from your own site (at most 1,000 events a call)."""
    reply = yield Call.post("/v1/signals/events", idempotency_key, json={"events": [dict(e) for e in events]})
    return SignalsResult(_got(reply).json())


def get_credits(*, page_size: int | None = None) -> Plan[Credits]:
    reply = yield Call("GET", "/v1/credits", params={"page_size": page_size})
    return Credits(_got(reply).json())


def credit_ledger(*, page_size: int = 100) -> Pages[LedgerEntry]:
    return Pages(Call("GET", "/v1/credits", params={"page_size": page_size}), "ledger", LedgerEntry)


def webhook_secret() -> Plan[WebhookSecret]:
    reply = yield Call("GET", "/v1/webhooks/secret")
    return WebhookSecret(_got(reply).json())
