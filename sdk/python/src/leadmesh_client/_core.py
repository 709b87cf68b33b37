"""What the sync and the async client share: the settings, the requests, the retry policy.

Every operation is written once, as a *plan*: a generator that yields the HTTP calls (``Call``)
and waits (``Sleep``) it needs and is sent each call's ``Reply``; its return value is the
operation's result. ``Leadmesh`` and ``AsyncLeadmesh`` only drive plans, each with its own httpx
client, so the two cannot drift apart.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import random
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from leadmesh_client._errors import APIConnectionError, APITimeoutError, LeadmeshError, error_from_answer
from leadmesh_client._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "Call",
    "ClientOptions",
    "Plan",
    "Reply",
    "Sink",
    "Sleep",
    "Upload",
    "method_like",
    "next_page",
    "retry_delay",
    "streams_to_output",
]

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 60.0
USER_AGENT = f"leadmesh-python/{__version__}"
RETRY_STATUSES = {429, 502, 503, 504}
BASE_DELAY = 0.5
MAX_DELAY = 8.0
# A Retry-After longer than this is not waited for: the error goes to the caller.
MAX_RETRY_AFTER = 60.0

T = TypeVar("T")


@dataclass(frozen=True)
class ClientOptions:
    api_key: str
    base_url: str
    timeout: float
    max_retries: int

    @classmethod
    def resolve(
        cls, api_key: str | None, base_url: str | None, timeout: float | None, max_retries: int
    ) -> ClientOptions:
        key = api_key or os.environ.get("LEADMESH_API_KEY")
        if not key:
            raise LeadmeshError(
                "no API key: pass api_key=... or set LEADMESH_API_KEY (`leadmesh accounts create` makes one)"
            )
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        url = base_url or os.environ.get("LEADMESH_BASE_URL") or DEFAULT_BASE_URL
        return cls(key, url.rstrip("/"), DEFAULT_TIMEOUT if timeout is None else timeout, max_retries)

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }


@dataclass(frozen=True)
class Upload:
    """A file sent as the multipart field ``file``, from ``start`` (where it stood when given)."""

    name: str
    file: IO[bytes]
    start: int


@dataclass(frozen=True)
class Call:
    """One HTTP request of a plan. A POST gets an ``Idempotency-Key`` (the caller's, else a new
    one) so that it can be retried safely; ``retry_unsent_only`` keeps a request that must not
    run twice (a PUT with ``If-Match``) from being retried once it may have reached the server."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    upload: Upload | None = None
    form: Mapping[str, str] | None = None
    # Where a successful body is streamed to instead of being read into memory.
    output: Path | IO[bytes] | None = None
    timeout: float | None = None
    retry_unsent_only: bool = False

    @classmethod
    def post(cls, path: str, idempotency_key: str | None = None, **kwargs: Any) -> Call:
        key = idempotency_key or f"lm-{uuid.uuid4().hex}"
        return cls("POST", path, headers={"Idempotency-Key": key, **kwargs.pop("headers", {})}, **kwargs)

    def request_args(self, timeout: float) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client.build_request`` (the same for the async client);
        an upload is read again from where it started on each attempt."""
        args: dict[str, Any] = {
            "params": {k: v for k, v in (self.params or {}).items() if v is not None},
            "headers": dict(self.headers),
            "timeout": self.timeout or timeout,
        }
        if self.json is not None:
            args["json"] = self.json
        if self.upload is not None:
            upload = self.upload
            upload.file.seek(upload.start)
            args["files"] = {"file": (upload.name, upload.file, "text/csv")}
            args["data"] = dict(self.form or {})
        return args


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Plan = Generator[Call | Sleep, Reply | None, T]


def retry_delay(call: Call, attempt: int, max_retries: int, outcome: Reply | Exception) -> float | None:
    """Seconds to wait before trying ``call`` again after ``outcome`` (its ``attempt``-th try,
    from 0), or None when the outcome is final."""
    if attempt >= max_retries:
        return None
    if call.method == "POST" and "Idempotency-Key" not in call.headers:
        return None
    backoff = min(MAX_DELAY, BASE_DELAY * 2.0**attempt) * random.uniform(0.5, 1.0)
    if isinstance(outcome, Exception):
        if not isinstance(outcome, httpx.TransportError):
            return None
        may_have_run = not isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout)
        return None if call.retry_unsent_only and may_have_run else backoff
    if outcome.status not in RETRY_STATUSES:
        return None
    after = _retry_after(outcome.headers.get("retry-after"))
    if after is None:
        return backoff
    return after if after <= MAX_RETRY_AFTER else None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def final(outcome: Reply | Exception) -> Reply:
    """The reply of a call that will not be retried, or the exception it stands for."""
    if isinstance(outcome, httpx.TimeoutException):
        raise APITimeoutError(f"no answer in time: {outcome}") from outcome
    if isinstance(outcome, httpx.TransportError):
        raise APIConnectionError(f"could not reach the API: {outcome!r}") from outcome
    if isinstance(outcome, Exception):
        raise outcome
    if outcome.status >= 400:
        raise error_from_answer(outcome.status, outcome.headers, outcome.content)
    return outcome


class Sink:
    """Where a streamed body goes: a path is written to ``<path>.part`` and renamed when whole (never
    half a file under the name asked for); a file object is rewound for a retried download."""

    def __init__(self, output: Path | IO[bytes]) -> None:
        self.output = output
        self.start = output.tell() if not isinstance(output, Path) and output.seekable() else None
        self._file: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        if isinstance(self.output, Path):
            self._file = self.output.with_name(self.output.name + ".part").open("wb")
            return self._file
        if self.start is not None:
            self.output.seek(self.start)
            self.output.truncate()
        return self.output

    def close(self, complete: bool) -> None:
        if self._file is None or not isinstance(self.output, Path):
            return
        self._file.close()
        part = Path(self._file.name)
        self._file = None
        if complete:
            part.replace(self.output)
        else:
            part.unlink(missing_ok=True)


def streams_to_output(call: Call, status: int, headers: httpx.Headers) -> bool:
    """Whether this answer's body goes to the call's output: a successful one that is not JSON."""
    return call.output is not None and status == 200 and "json" not in headers.get("content-type", "")


def method_like(method: Callable[..., Any], operation: Callable[..., Any], wrap: str = "{}") -> Any:
    """``method`` named, documented and signed as ``operation`` with ``self`` first, returning what
    the operation's plan or pages produce (``wrap`` around it: "Iterator[{}]"), for help() and editors."""
    functools.update_wrapper(method, operation)
    signature = inspect.signature(operation)
    produced = str(signature.return_annotation)
    inner = produced[produced.index("[") + 1 : -1] if "[" in produced else produced
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[this, *signature.parameters.values()], return_annotation=wrap.format(inner)
    )
    return method


def next_page(call: Call, body: Any) -> Call | None:
    """The call of the page after ``body``, or None on the last page."""
    token = body.get("next_page_token") if isinstance(body, dict) else None
    if not token:
        return None
    return replace(call, params={**(call.params or {}), "page_token": token})
