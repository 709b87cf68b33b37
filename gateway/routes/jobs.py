"""POST /v1/enrich/csv and the jobs it creates: GET /v1/jobs, GET/DELETE /v1/jobs/{id},
and GET /v1/jobs/{id}/result.csv.

The file comes as ``multipart/form-data`` (field ``file``) or as a raw ``text/csv`` body, and is
streamed to the batch service as it arrives. Options are form fields or query parameters:
``fields``, ``skip_icp``, ``mapping`` (a JSON object: input field -> column header, or null to
leave a field unmapped), ``escape_formulas`` (default true; false keeps result cells that a
spreadsheet would run as formulas as they are, for a CRM re-import), and ``webhook_url``, which is
a form field or, with a raw body, the ``X-Webhook-Url`` header, never a query parameter (a 400:
query strings land in access logs). Below ``csv_sync_max_rows`` data rows the answer is the
enriched CSV itself; otherwise (or when the job outlasts ``csv_sync_timeout``) it is 202 with the
job, to be polled at ``GET /v1/jobs/{id}`` and fetched at ``/v1/jobs/{id}/result.csv``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from typing import Annotated, Any

import grpc
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.datastructures import FormData, UploadFile

from gateway import examples
from gateway.auth import CurrentCaller
from gateway.errors import ApiError
from gateway.settings import GatewaySettings
from leadmesh.batch.v1 import batch_service_pb2 as pb
from leadmesh.common.v1 import common_pb2 as common
from libs.leads import FIELD_GROUPS, INPUT_FIELDS

router = APIRouter(prefix="/v1", tags=["csv jobs"])

PIECE = 64 * 1024
CSV_TYPES = {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"}
_STATES = {
    pb.Job.STATE_QUEUED: "queued",
    pb.Job.STATE_RUNNING: "running",
    pb.Job.STATE_SUCCEEDED: "succeeded",
    pb.Job.STATE_FAILED: "failed",
    pb.Job.STATE_CANCELLED: "cancelled",
}
_GROUP_NAMES = {number: name for name, number in FIELD_GROUPS.items()}
TERMINAL = {pb.Job.STATE_SUCCEEDED, pb.Job.STATE_FAILED, pb.Job.STATE_CANCELLED}


def _time(stamp: Timestamp, present: bool) -> str | None:
    return stamp.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z") if present else None


def job_json(job: pb.Job, issues: list[pb.RowIssue] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.job_id,
        "status": _STATES.get(job.state, "queued"),
        "file_name": job.file_name or None,
        "total_rows": job.total_rows,
        "counts": {
            "enriched": job.counts.enriched,
            "not_found": job.counts.not_found,
            "invalid_input": job.counts.invalid_input,
            "failed": job.counts.failed,
            "pending": job.counts.pending,
        },
        "progress": job.progress,
        "credits_used": job.credits_used,
        "credits_reserved": job.credits_reserved,
        "mapping": {binding.input_field: binding.column for binding in job.mapping.bindings},
        "fields": [_GROUP_NAMES[f] for f in job.fields if f in _GROUP_NAMES],
        "skip_icp": job.skip_icp,
        "escape_formulas": not job.keep_formulas,
        "webhook_url": job.webhook_url or None,
        "created_at": _time(job.create_time, job.HasField("create_time")),
        "started_at": _time(job.start_time, job.HasField("start_time")),
        "completed_at": _time(job.end_time, job.HasField("end_time") and job.state in TERMINAL),
        "error": {"code": job.error_reason, "message": job.error} if job.error else None,
        "result_url": f"/v1/jobs/{job.job_id}/result.csv",
        "livemode": not job.sandbox,
    }
    if issues is not None:
        body["row_issues"] = [
            {"row": issue.row_number, "line": issue.line_number, "reason": issue.reason} for issue in issues
        ]
    return body


def _flag(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise ApiError(400, f"{name} must be true or false, got {value[:50]!r}", "INVALID_OPTION")


def _fields(values: list[str]) -> list[common.FieldGroup.ValueType]:
    names = [part.strip().lower() for value in values for part in value.split(",") if part.strip()]
    unknown = sorted({name for name in names if name not in FIELD_GROUPS})
    if unknown:
        raise ApiError(400, f"unknown fields {unknown}; known: {sorted(FIELD_GROUPS)}", "INVALID_FIELDS")
    return sorted({FIELD_GROUPS[name] for name in names})


def _mapping(text: str | None) -> pb.ColumnMapping:
    if not text:
        return pb.ColumnMapping()
    try:
        given = json.loads(text)
    except json.JSONDecodeError as error:
        raise ApiError(400, f"mapping is not valid JSON: {error.msg}", "INVALID_MAPPING") from None
    if not isinstance(given, dict) or not all(isinstance(v, str | None) for v in given.values()):
        raise ApiError(
            400, "mapping must be a JSON object of input field -> column name (or null)", "INVALID_MAPPING"
        )
    unknown = sorted(set(given) - set(INPUT_FIELDS))
    if unknown:
        raise ApiError(
            400,
            f"mapping names unknown input fields {unknown}; known: {list(INPUT_FIELDS)}",
            "INVALID_MAPPING",
        )
    return pb.ColumnMapping(
        bindings=[pb.ColumnBinding(input_field=name, column=column or "") for name, column in given.items()]
    )


def _options(
    caller_account: str, source: Mapping[str, list[str]], key: str | None, file_name: str
) -> pb.JobOptions:
    def one(name: str) -> str | None:
        values = source.get(name) or []
        return values[-1] if values else None

    return pb.JobOptions(
        account_id=caller_account,
        request_id=f"key:{key}" if key else "",
        fields=_fields(source.get("fields", [])),
        skip_icp=_flag(one("skip_icp"), "skip_icp"),
        keep_formulas=not _flag(one("escape_formulas") or "true", "escape_formulas"),
        webhook_url=(one("webhook_url") or "").strip(),
        mapping=_mapping(one("mapping")),
        file_name=file_name[:255],
    )


def _check_charset(content_type: str) -> None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in {"utf-8", "utf8"}:
            raise ApiError(
                415,
                f"only UTF-8 files are accepted, this one says charset={value.strip()}",
                "UNSUPPORTED_ENCODING",
            )


async def _upload_pieces(file: UploadFile) -> AsyncIterator[bytes]:
    while piece := await file.read(PIECE):
        yield piece


async def _requests(
    options: pb.JobOptions, pieces: AsyncIterator[bytes], failure: list[BaseException]
) -> AsyncIterator[pb.CreateJobRequest]:
    """The stream of CreateJob. Reading the body can fail (too large, the client gone) inside gRPC's
    own task, where the call only sees a cancellation: the error is kept in ``failure``."""
    yield pb.CreateJobRequest(options=options)
    buffer = bytearray()
    try:
        async for piece in pieces:
            buffer += piece
            if len(buffer) >= PIECE:
                yield pb.CreateJobRequest(chunk=bytes(buffer))
                buffer.clear()
    except BaseException as exc:
        failure.append(exc)
        raise
    if buffer:
        yield pb.CreateJobRequest(chunk=bytes(buffer))


async def _source(
    request: Request, key: str | None, account_id: str, form: list[FormData]
) -> tuple[pb.JobOptions, AsyncIterator[bytes]]:
    """The options and the file's bytes; a parsed multipart form is appended to ``form`` (to close)."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    if "webhook_url" in request.query_params:  # a query string lands in access logs
        raise ApiError(
            400,
            "webhook_url is not taken from the query string (it would land in access logs): send it "
            "as a form field of the multipart upload, or as the X-Webhook-Url header with a raw CSV body",
            "WEBHOOK_URL_IN_QUERY",
            headers={"X-Error-Field": "webhook_url"},
        )
    query: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        query.setdefault(name, []).append(value)
    if media == "multipart/form-data":
        parsed = await request.form(max_files=1, max_fields=20)
        form.append(parsed)
        upload = parsed.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "the multipart body needs the CSV in a field named 'file'", "FILE_REQUIRED")
        _check_charset(upload.content_type or "")
        for name, item in parsed.multi_items():
            if isinstance(item, str):
                query.setdefault(name, []).append(item)
        return _options(account_id, query, key, upload.filename or ""), _upload_pieces(upload)
    if media in CSV_TYPES:
        _check_charset(content_type)
        name = request.headers.get("x-file-name", "")
        if webhook_url := request.headers.get("x-webhook-url"):
            query["webhook_url"] = [webhook_url]
        return _options(account_id, query, key, name), request.stream()
    raise ApiError(
        415,
        "send the CSV as multipart/form-data (field 'file') or as a text/csv body, "
        f"not {media or 'no content type'!r}",
        "UNSUPPORTED_MEDIA_TYPE",
    )


@router.post(
    "/enrich/csv",
    summary="Enrich a CSV file",
    openapi_extra=examples.CSV_UPLOAD,
    responses={
        200: {**examples.CSV_ANSWER, "description": "The enriched file (below csv_sync_max_rows data rows)"},
        202: examples.json_example(
            {"job_id": examples.CSV_JOB["id"], **examples.CSV_JOB, **examples.JOB_ISSUES}, "A job was queued"
        ),
    },
)
async def enrich_csv(
    request: Request,
    caller: CurrentCaller,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    settings: GatewaySettings = request.app.state.settings
    batch = request.app.state.mesh.batch
    form: list[FormData] = []
    failure: list[BaseException] = []
    uploads = request.app.state.limits.uploads
    request.app.state.limits.upload_refusal(caller.account_id)
    try:
        with uploads.hold(caller.account_id):  # until the file is received and stored
            options, pieces = await _source(request, idempotency_key, caller.account_id, form)
            options.sandbox = caller.test_mode
            created: pb.CreateJobResponse = await batch.CreateJob(
                _requests(options, pieces, failure), timeout=settings.csv_upload_timeout
            )
    except (asyncio.CancelledError, grpc.aio.AioRpcError):
        if failure:  # the body's own error (a 413 from the size limit, say) is the answer
            raise failure[0] from None
        raise
    finally:
        for parsed in form:
            await parsed.close()
    job = created.job
    if job.total_rows < settings.csv_sync_max_rows:
        job = await _wait(request, caller.account_id, job, settings.csv_sync_timeout)
    if job.state in TERMINAL:
        return await _result_response(request, caller.account_id, job)
    return JSONResponse(
        {"job_id": job.job_id, **job_json(job, list(created.row_issues))},
        status_code=202,
        headers={"Location": f"/v1/jobs/{job.job_id}"},
    )


async def _wait(request: Request, account_id: str, job: pb.Job, timeout: float) -> pb.Job:
    """The job once it ended, or as it was when ``timeout`` ran out."""
    if job.state in TERMINAL:
        return job
    stream = request.app.state.mesh.batch.WatchJob(
        pb.WatchJobRequest(account_id=account_id, job_id=job.job_id, sandbox=job.sandbox), timeout=timeout
    )
    try:
        async for update in stream:
            job = update.job
            if job.state in TERMINAL:
                break
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    finally:
        stream.cancel()
    return job


async def _result_response(request: Request, account_id: str, job: pb.Job) -> StreamingResponse:
    """The result file, streamed. Its first piece is awaited before the 200 goes out, so that a
    refusal (not finished, not found, batch unavailable) is answered as an error, not as a 200
    with an empty body."""
    settings: GatewaySettings = request.app.state.settings
    stream = request.app.state.mesh.batch.GetJobResult(
        pb.GetJobResultRequest(account_id=account_id, job_id=job.job_id, sandbox=job.sandbox),
        timeout=settings.csv_result_timeout,
    )
    pieces = stream.__aiter__()
    try:
        first = await pieces.__anext__()
    except StopAsyncIteration:
        first = pb.GetJobResultResponse()
    except BaseException:
        stream.cancel()
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first.chunk
            async for piece in pieces:
                yield piece.chunk
        finally:
            stream.cancel()

    name = (job.file_name.rsplit(".", 1)[0] or "leads") if job.file_name else "leads"
    safe = "".join(c for c in name if c.isalnum() or c in "-_ .")[:100] or "leads"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}-enriched.csv"',
            "X-Job-Id": job.job_id,
            "X-Job-Status": _STATES.get(job.state, ""),
            "X-Credits-Used": str(job.credits_used),
            "X-Rows-Total": str(job.total_rows),
            "X-Livemode": "false" if job.sandbox else "true",
            "X-Column-Mapping": json.dumps(
                {binding.input_field: binding.column for binding in job.mapping.bindings}, ensure_ascii=True
            ),
        },
    )


JobId = Annotated[str, Path(max_length=64)]


@router.get(
    "/jobs",
    summary="The account's CSV jobs, newest first",
    responses={200: examples.json_example({"jobs": [examples.CSV_JOB], "next_page_token": None})},
)
async def list_jobs(
    request: Request,
    caller: CurrentCaller,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    listed = await request.app.state.mesh.batch.ListJobs(
        pb.ListJobsRequest(
            account_id=caller.account_id,
            page_size=page_size,
            page_token=page_token or "",
            sandbox=caller.test_mode,
        )
    )
    return {
        "jobs": [job_json(job) for job in listed.jobs],
        "next_page_token": listed.next_page_token or None,
        "livemode": not caller.test_mode,
    }


@router.get(
    "/jobs/{job_id}",
    summary="A CSV job's state, counts and progress",
    responses={200: examples.json_example({**examples.CSV_JOB, **examples.JOB_ISSUES})},
)
async def get_job(request: Request, caller: CurrentCaller, job_id: JobId) -> Any:
    got = await request.app.state.mesh.batch.GetJob(
        pb.GetJobRequest(account_id=caller.account_id, job_id=job_id, sandbox=caller.test_mode)
    )
    return job_json(got.job, list(got.row_issues))


@router.delete(
    "/jobs/{job_id}",
    summary="Cancel a CSV job",
    responses={200: examples.json_example({**examples.CSV_JOB, "status": "cancelled"})},
)
async def cancel_job(request: Request, caller: CurrentCaller, job_id: JobId) -> Any:
    cancelled = await request.app.state.mesh.batch.CancelJob(
        pb.CancelJobRequest(account_id=caller.account_id, job_id=job_id, sandbox=caller.test_mode)
    )
    return job_json(cancelled.job)


@router.get(
    "/jobs/{job_id}/result.csv",
    summary="A finished job's enriched CSV",
    responses={200: examples.CSV_ANSWER},
)
async def job_result(request: Request, caller: CurrentCaller, job_id: JobId) -> Response:
    got = await request.app.state.mesh.batch.GetJob(
        pb.GetJobRequest(account_id=caller.account_id, job_id=job_id, sandbox=caller.test_mode)
    )
    return await _result_response(request, caller.account_id, got.job)
