"""A job document as the ``leadmesh.batch.v1.Job`` callers see, with its live counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from leadmesh.batch.v1 import batch_service_pb2 as pb
from libs.mongo import Document, as_datetime
from services.batch.results import STATUSES

__all__ = ["STATES", "TERMINAL", "Totals", "job_message", "row_issues", "totals"]

STATES = {
    "queued": pb.Job.STATE_QUEUED,
    "running": pb.Job.STATE_RUNNING,
    "succeeded": pb.Job.STATE_SUCCEEDED,
    "failed": pb.Job.STATE_FAILED,
    "cancelled": pb.Job.STATE_CANCELLED,
}
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Totals:
    """Rows with a result, by status, and the credits charged for them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    credits: int = 0

    @property
    def done(self) -> int:
        return sum(self.counts.values())


def totals(chunks: Sequence[Document]) -> Totals:
    found = Totals()
    for chunk in chunks:
        for status, count in chunk["counts"].items():
            found.counts[status] = found.counts.get(status, 0) + int(count)
        found.credits += int(chunk["credits"])
    return found


def row_issues(document: Document) -> list[pb.RowIssue]:
    """The first issues found in the job's file (rows that could not be used), as stored."""
    return [pb.RowIssue.FromString(bytes(issue)) for issue in document.get("row_issues", [])]


def _timestamp(value: object) -> Timestamp | None:
    when = as_datetime(value)
    if not isinstance(when, datetime):
        return None
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def job_message(document: Document, live: Totals | None = None) -> pb.Job:
    """The job; a finished job's counts are its final ones, a live one's come from ``live``."""
    final = document.get("finalized", False)
    counts = document["counts"] if final or live is None else live.counts
    credits = document.get("credits_used", 0) if final or live is None else live.credits
    total = int(document["total_rows"])
    done = sum(counts.values())
    job = pb.Job(
        job_id=document["_id"],
        account_id=document["account_id"],
        state=STATES[document["state"]],
        total_rows=total,
        counts=pb.RowCounts(
            enriched=counts.get("enriched", 0),
            not_found=counts.get("not_found", 0),
            invalid_input=counts.get("invalid_input", 0),
            failed=counts.get("failed", 0),
            pending=max(0, total - done),
        ),
        credits_used=credits,
        credits_reserved=document.get("credits_reserved", 0),
        progress=1.0 if total == 0 or final else round(done / total, 4),
        mapping=pb.ColumnMapping(
            bindings=[
                pb.ColumnBinding(input_field=name, column=document["header"][index], column_index=index)
                for name, index in document["mapping"].items()
            ]
        ),
        fields=document["fields"],
        skip_icp=document["skip_icp"],
        keep_formulas=document.get("keep_formulas", False),
        webhook_url=document.get("webhook_url", ""),
        file_name=document.get("file_name", ""),
        error=document.get("error", ""),
        error_reason=document.get("error_reason", ""),
        sandbox=bool(document.get("sandbox", False)),
    )
    for name in ("create_time", "start_time", "end_time"):
        stamp = _timestamp(document.get(name))
        if stamp is not None:
            getattr(job, name).CopyFrom(stamp)
    return job
