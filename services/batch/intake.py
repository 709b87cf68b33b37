"""A CSV upload becoming a job: spool, check, reserve the worst case, store rows, publish chunks.

The upload is spooled to disk while its UTF-8 is checked (memory stays flat whatever the size),
then read twice: the first pass maps the columns, counts the rows (more than the limit is refused
before any work) and the usable ones (their worst-case price is reserved in billing, or the job is
refused with INSUFFICIENT_CREDITS); the second stores the rows. Only then is the job written and
its chunk events published. A failure on the way removes what was written and releases the hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from leadmesh.batch.v1 import batch_events_pb2 as events_pb
from leadmesh.batch.v1 import batch_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.common.v1 import common_pb2 as common
from libs.amqp import Publisher
from libs.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
    error_from_rpc,
)
from libs.ids import new_id
from libs.leads import lead_cost, validate_lead
from libs.mongo import Document, utc_now
from libs.protos import require_account
from libs.safe_http import check_url, parse_ports, url_port
from services.batch.columns import (
    RowLead,
    RowProblem,
    apply_mapping_override,
    detect_mapping,
    lead_from_cells,
)
from services.batch.csvfile import CsvRow, CsvTable, RowLimits, Utf8Spool
from services.batch.jobs import row_issues
from services.batch.prefetch import IntentPrefetch, lead_company_domain
from services.batch.repository import JobRepository, row_key
from services.batch.settings import BatchSettings

__all__ = ["CHUNK_ROUTING_KEY", "Intake", "Upload", "queue_job"]

log = logging.getLogger(__name__)

CHUNK_ROUTING_KEY = "batch.chunk.ready"
MAX_ISSUES = 100
STORE_BATCH = 1_000
MAX_WEBHOOK_URL = 2_048
MAX_DOMAINS = 20_000


@dataclass
class Upload:
    """What the first pass learned about a file."""

    header: list[str]
    mapping: dict[str, int]
    rows: int = 0
    usable: int = 0
    width: int = 0
    longest: int = 0  # bytes of the longest row
    issues: list[pb.RowIssue] = field(default_factory=list)
    # The distinct company domains the usable rows name (for the intent prefetch), at most MAX_DOMAINS.
    domains: set[str] = field(default_factory=set)


def _lead(row: CsvRow, mapping: Mapping[str, int]) -> common.LeadInput | str:
    """The row's lead, or why it cannot be used."""
    found = lead_from_cells(row.cells, mapping)
    if isinstance(found, RowProblem):
        return found.reason
    assert isinstance(found, RowLead)
    lead = common.LeadInput(
        email=found.email,
        first_name=found.first_name,
        last_name=found.last_name,
        full_name=found.full_name,
        company_name=found.company_name,
        company_domain=found.company_domain,
        linkedin_url=found.linkedin_url,
    )
    try:
        validate_lead(lead)
    except InvalidArgument as error:
        return error.message.removeprefix("lead.").removeprefix("lead ")
    return lead


def _override(options: pb.JobOptions) -> dict[str, str | None]:
    return {binding.input_field: binding.column or None for binding in options.mapping.bindings}


def survey(path: Path, override: Mapping[str, str | None], max_rows: int, limits: RowLimits) -> Upload:
    """First pass: mapping, row counts, the widest row and the first issues."""
    with CsvTable.open(path, limits) as table:
        mapping = apply_mapping_override(table.header, detect_mapping(table.header), override)
        if not mapping:
            raise InvalidArgument(
                "no column of the header could be mapped to a lead input (email, name, company, "
                f"domain, LinkedIn URL); header: {table.header[:30]}; pass a mapping",
                reason="NO_MAPPED_COLUMNS",
                metadata={"field": "mapping"},
            )
        upload = Upload(table.header, mapping, width=len(table.header))
        for row in table.rows():
            upload.rows += 1
            if upload.rows > max_rows:
                raise ResourceExhausted(
                    f"the file has more than {max_rows:,} data rows; split it into smaller files",
                    reason="TOO_MANY_ROWS",
                    metadata={"max_rows": str(max_rows)},
                )
            upload.width = max(upload.width, len(row.cells))
            upload.longest = max(upload.longest, row.size)
            lead = _lead(row, mapping)
            if isinstance(lead, str):
                if len(upload.issues) < MAX_ISSUES:
                    upload.issues.append(
                        pb.RowIssue(row_number=row.number, line_number=row.line, reason=lead)
                    )
            else:
                upload.usable += 1
                domain = lead_company_domain(lead.email, lead.company_domain)
                if domain and len(upload.domains) < MAX_DOMAINS:
                    upload.domains.add(domain)
    return upload


def _row_document(job_id: str, row: CsvRow, mapping: Mapping[str, int]) -> Document:
    lead = _lead(row, mapping)
    document: Document = {"_id": row_key(job_id, row.number), "line": row.line, "cells": row.cells}
    if isinstance(lead, str):
        document["problem"] = lead
    else:
        document["lead"] = lead.SerializeToString()
    return document


def _row_batches(
    path: Path, job_id: str, mapping: Mapping[str, int], limits: RowLimits
) -> Iterator[list[Document]]:
    with CsvTable.open(path, limits) as table:
        batch: list[Document] = []
        for row in table.rows():
            batch.append(_row_document(job_id, row, mapping))
            if len(batch) == STORE_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _validate(options: pb.JobOptions, webhook_ports: tuple[range, ...]) -> None:
    require_account(options.account_id)
    for group in options.fields:
        if group == common.FIELD_GROUP_UNSPECIFIED or group not in common.FieldGroup.values():
            raise InvalidArgument(
                "fields has an unknown field group", reason="INVALID_FIELDS", metadata={"field": "fields"}
            )
    if options.webhook_url:
        if len(options.webhook_url) > MAX_WEBHOOK_URL:
            raise InvalidArgument(
                f"webhook_url is longer than {MAX_WEBHOOK_URL} characters",
                reason="INVALID_URL",
                metadata={"field": "webhook_url"},
            )
        try:
            port = url_port(check_url(options.webhook_url))
        except InvalidArgument as error:
            raise InvalidArgument(
                error.message, reason="INVALID_WEBHOOK_URL", metadata={"field": "webhook_url"}
            ) from None
        if not any(port in ports for ports in webhook_ports):
            raise InvalidArgument(
                f"webhook_url uses port {port}; webhooks go to ports 80 and 443 only, unless the "
                "operator allows others (LEADMESH_BATCH_WEBHOOK_ALLOWED_PORTS)",
                reason="WEBHOOK_PORT_NOT_ALLOWED",
                metadata={"field": "webhook_url"},
            )
    if len(options.file_name) > 255 or len(options.request_id) > 255:
        raise InvalidArgument("file_name and request_id are at most 255 characters", reason="FIELD_TOO_LONG")


class Intake:
    def __init__(
        self,
        repository: JobRepository,
        billing: billing_grpc.BillingServiceStub,
        publisher: Publisher,
        settings: BatchSettings,
        on_finished: Callable[[Document], Awaitable[None]],
        prefetch: IntentPrefetch | None = None,
    ):
        self.on_finished = on_finished
        self.prefetch = prefetch
        self.repository = repository
        self.billing = billing
        self.publisher = publisher
        self.settings = settings
        self.spool_dir = settings.batch_spool_dir or Path(tempfile.gettempdir())
        self.limits = RowLimits(settings.batch_max_columns, settings.batch_max_row_bytes)
        self.webhook_ports = parse_ports(settings.batch_webhook_allowed_ports)

    async def create(
        self, options: pb.JobOptions, body: AsyncIterator[bytes]
    ) -> tuple[Document, list[pb.RowIssue]]:
        """The stored job and the first row issues; a retried request id answers its first job."""
        _validate(options, self.webhook_ports)
        job_id = new_id("job")
        if options.request_id and options.sandbox:  # a test key's Idempotency-Keys are its own
            options.request_id = f"test:{options.request_id}"
        if options.request_id:
            first = await self.repository.claim_request(options.account_id, options.request_id, job_id)
            if first != job_id:
                return await self._replay(options, first, body)
        try:
            await self._check_active_jobs(options.account_id)
            return await self._create(job_id, options, body)
        except BaseException:
            # The key is free again unless the job stands (then a retry answers it).
            if options.request_id and await self.repository.job(job_id) is None:
                await self.repository.forget_request(options.account_id, options.request_id, job_id)
            raise

    async def _check_active_jobs(self, account_id: str) -> None:
        limit = self.settings.batch_max_active_jobs
        if await self.repository.active_jobs(account_id) >= limit:
            raise ResourceExhausted(
                f"this account has {limit} jobs queued or running, its limit; retry when one has ended",
                reason="TOO_MANY_JOBS",
                metadata={"limit": str(limit), "retry_after": "30"},
            )

    async def _replay(
        self, options: pb.JobOptions, job_id: str, body: AsyncIterator[bytes]
    ) -> tuple[Document, list[pb.RowIssue]]:
        digest = hashlib.sha256()
        async for chunk in body:  # the client streams the file again: only to compare it
            digest.update(chunk)
        job = await self.repository.get_job(options.account_id, job_id, options.sandbox)
        if job is None:
            raise Conflict(
                "an upload with this request id is still being received; retry when it has finished",
                reason="UPLOAD_IN_PROGRESS",
            )
        if job.get("upload_print", "") != _upload_print(options, digest.hexdigest()):
            raise Conflict(
                f"this request id was used for another upload (job {job_id}): a different file or "
                "different options; use a new Idempotency-Key",
                reason="IDEMPOTENCY_KEY_REUSED",
            )
        return job, row_issues(job)

    async def _create(
        self, job_id: str, options: pb.JobOptions, body: AsyncIterator[bytes]
    ) -> tuple[Document, list[pb.RowIssue]]:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{job_id}.csv"
        try:
            upload_print = _upload_print(options, await self._spool(path, body))
            max_rows = self.settings.batch_max_rows
            upload = await asyncio.to_thread(survey, path, _override(options), max_rows, self.limits)
            price = 0 if options.sandbox else lead_cost(options.fields)  # a test key's file is free
            reservation = await self._reserve(options.account_id, job_id, upload.usable * price)
            # While the rows are stored and the first chunks looked up; a test key's job contacts
            # nothing outside (its rows are answered from the sandbox).
            if self.prefetch is not None and not options.sandbox:
                self.prefetch.start(options.account_id, job_id, upload.domains)
            try:
                stored = await self._store(job_id, options, path, upload, reservation, upload_print)
            except BaseException:
                await asyncio.shield(self._abort(options.account_id, job_id, reservation))
                raise
            # From here the job stands (its first chunks may be enriched and charged at once): it
            # is queued now, or by the workers' sweep if the broker fails us (queue_stalled_jobs).
            await self._queue(stored)
            return stored, upload.issues
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    async def _spool(self, path: Path, body: AsyncIterator[bytes]) -> str:
        """Writes the upload to ``path``; the SHA-256 of its bytes."""
        spool, digest = Utf8Spool(path), hashlib.sha256()
        try:
            async for chunk in body:
                if spool.size + len(chunk) > self.settings.batch_max_upload_bytes:
                    raise ResourceExhausted(
                        f"the file is larger than {self.settings.batch_max_upload_bytes:,} bytes",
                        reason="FILE_TOO_LARGE",
                    )
                spool.write(chunk)
                digest.update(chunk)
        finally:
            spool.close()
        return digest.hexdigest()

    async def _reserve(self, account_id: str, job_id: str, amount: int) -> Document:
        if amount == 0:
            return {"reservation_id": "", "credits_reserved": 0}
        try:
            reserved = await self.billing.Reserve(
                billing_pb.ReserveRequest(
                    account_id=account_id,
                    idempotency_key=f"job:{job_id}",
                    amount=amount,
                    description=f"CSV job {job_id}",
                ),
                timeout=self.settings.batch_billing_timeout,
            )
        except grpc.aio.AioRpcError as exc:
            error = error_from_rpc(exc)
            if error.reason == "INSUFFICIENT_CREDITS" or exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                raise FailedPrecondition(
                    f"this file needs up to {amount:,} credits: {error.message}",
                    reason="INSUFFICIENT_CREDITS",
                    metadata={**error.metadata, "required": str(amount)},
                ) from None
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise error from None
            raise Unavailable("billing is unavailable; retry shortly", reason="BILLING_UNAVAILABLE") from None
        return {"reservation_id": reserved.reservation.reservation_id, "credits_reserved": amount}

    async def _store(
        self,
        job_id: str,
        options: pb.JobOptions,
        path: Path,
        upload: Upload,
        reservation: Document,
        upload_print: str,
    ) -> Document:
        batches = _row_batches(path, job_id, upload.mapping, self.limits)
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            await self.repository.insert_rows(batch)
        chunk_rows = self.settings.batch_chunk_rows
        now = utc_now()
        job: Document = {
            "_id": job_id,
            "account_id": options.account_id,
            "sandbox": options.sandbox,
            "request_id": options.request_id,
            "upload_print": upload_print,
            "state": "queued" if upload.rows else "succeeded",
            "finalized": not upload.rows,
            "file_name": options.file_name,
            "header": upload.header,
            "width": upload.width,
            "longest_row": upload.longest,
            "mapping": upload.mapping,
            "fields": list(options.fields),
            "skip_icp": options.skip_icp,
            "keep_formulas": options.keep_formulas,
            "webhook_url": options.webhook_url,
            "total_rows": upload.rows,
            "usable_rows": upload.usable,
            "chunk_rows": chunk_rows,
            "chunks": math.ceil(upload.rows / chunk_rows),
            "counts": {"enriched": 0, "not_found": 0, "invalid_input": 0, "failed": 0},
            "credits_used": 0,
            **reservation,
            "row_issues": [issue.SerializeToString() for issue in upload.issues],
            "queued": False,
            "create_time": now,
            **({} if upload.rows else {"start_time": now, "end_time": now}),
        }
        await self.repository.insert_job(job)
        log.info("job created", extra={"job_id": job_id, "rows": upload.rows, "chunks": job["chunks"]})
        return job

    async def _queue(self, job: Document) -> None:
        try:
            await queue_job(self.repository, self.publisher, job, self.on_finished)
        except Exception:
            log.warning("job not queued yet; the workers' sweep will", extra={"job_id": job["_id"]})

    async def _abort(self, account_id: str, job_id: str, reservation: Document) -> None:
        await self.repository.delete_job(job_id)
        if reservation["reservation_id"]:
            await self.billing.ReleaseReservation(
                billing_pb.ReleaseReservationRequest(
                    account_id=account_id, reservation_id=reservation["reservation_id"]
                ),
                timeout=self.settings.batch_billing_timeout,
            )


def _upload_print(options: pb.JobOptions, body_sha256: str) -> str:
    """What a replay of an upload must match: its options (but the request id) and its bytes."""
    compared = pb.JobOptions()
    compared.CopyFrom(options)
    compared.ClearField("request_id")
    options_sha256 = hashlib.sha256(compared.SerializeToString(deterministic=True)).hexdigest()
    return f"{options_sha256}:{body_sha256}"


async def queue_job(
    repository: JobRepository,
    publisher: Publisher,
    job: Document,
    on_finished: Callable[[Document], Awaitable[None]],
) -> None:
    """Publishes every chunk of ``job`` (a chunk published twice is handled once) and marks it
    queued; a job without rows is finished at once."""
    chunk_rows, rows = int(job["chunk_rows"]), int(job["total_rows"])
    for chunk in range(int(job["chunks"])):
        first = chunk * chunk_rows + 1
        await publisher.publish(
            CHUNK_ROUTING_KEY,
            events_pb.ChunkReady(
                job_id=job["_id"],
                account_id=job["account_id"],
                chunk_index=chunk,
                first_row=first,
                row_count=min(chunk_rows, rows - first + 1),
            ),
            message_id=f"{job['_id']}:{chunk}",
        )
    if not rows:
        await on_finished(job)
    await repository.update_job(job["_id"], {"queued": True})
