"""``Leadmesh``: the blocking client. It drives the shared plans with an ``httpx.Client``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

import httpx

from leadmesh_client import _plans as plans
from leadmesh_client._answer import Answer
from leadmesh_client._core import (
    Call,
    ClientOptions,
    Plan,
    Reply,
    Sink,
    final,
    method_like,
    next_page,
    retry_delay,
)
from leadmesh_client._core import streams_to_output as _streams

__all__ = ["Leadmesh"]

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A", bound=Answer)


class _Resource:
    def __init__(self, client: Leadmesh) -> None:
        self._client = client


def _op(plan: Callable[P, Plan[T]]) -> Callable[Concatenate[_Resource, P], T]:
    def method(self: _Resource, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._client._run(plan(*args, **kwargs))

    return method_like(method, plan)  # type: ignore[no-any-return]


def _pages(pages: Callable[P, plans.Pages[A]]) -> Callable[Concatenate[_Resource, P], Iterator[A]]:
    def method(self: _Resource, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[A]:
        return self._client._iterate(pages(*args, **kwargs))

    return method_like(method, pages, "Iterator[{}]")  # type: ignore[no-any-return]


class Enrich(_Resource):
    lead = _op(plans.enrich_lead)
    csv_row = _op(plans.enrich_csv_row)
    csv = _op(plans.enrich_csv)


class Enrichments(_Resource):
    get = _op(plans.get_enrichment)


class Jobs(_Resource):
    list = _pages(plans.list_jobs)
    get = _op(plans.get_job)
    cancel = _op(plans.cancel_job)
    wait = _op(plans.wait_job)
    download = _op(plans.download_job)


class Icp(_Resource):
    get = _op(plans.get_icp)
    update = _op(plans.update_icp)
    versions = _pages(plans.icp_versions)


class Signals(_Resource):
    send = _op(plans.send_signals)


class CreditsResource(_Resource):
    get = _op(plans.get_credits)
    ledger = _pages(plans.credit_ledger)


class Webhooks(_Resource):
    secret = _op(plans.webhook_secret)


class Leadmesh:
    """The leadmesh API. ``api_key`` defaults to ``$LEADMESH_API_KEY``, ``base_url`` to
    ``$LEADMESH_BASE_URL``, then ``http://127.0.0.1:8080``; ``timeout`` is seconds per request;
    failed requests that are safe to repeat are retried ``max_retries`` times."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._options = ClientOptions.resolve(api_key, base_url, timeout, max_retries)
        self._http = http_client or httpx.Client()
        self.enrich = Enrich(self)
        self.enrichments = Enrichments(self)
        self.jobs = Jobs(self)
        self.icp = Icp(self)
        self.signals = Signals(self)
        self.credits = CreditsResource(self)
        self.webhooks = Webhooks(self)

    @property
    def base_url(self) -> str:
        return self._options.base_url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Leadmesh:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, plan: Plan[T]) -> T:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Call):
                    step = plan.send(self._send(step))
                else:
                    time.sleep(step.seconds)
                    step = plan.send(None)
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            plan.close()

    def _iterate(self, pages: plans.Pages[A]) -> Iterator[A]:
        call: Call | None = pages.first
        while call is not None:
            body = final(self._send(call)).json()
            yield from pages.items(body)
            call = next_page(call, body)

    def _send(self, call: Call) -> Reply:
        attempt = 0
        while True:
            outcome = self._attempt(call)
            delay = retry_delay(call, attempt, self._options.max_retries, outcome)
            if delay is None:
                return final(outcome)
            time.sleep(delay)
            attempt += 1

    def _attempt(self, call: Call) -> Reply | Exception:
        options = self._options
        request = self._http.build_request(
            call.method, options.base_url + call.path, **call.request_args(options.timeout)
        )
        request.headers.update({k: v for k, v in options.headers().items() if k not in call.headers})
        request.headers.update(call.headers)
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            return exc
        try:
            if not _streams(call, response.status_code, response.headers):
                return Reply(response.status_code, response.headers, response.read())
            assert call.output is not None
            sink = Sink(call.output)
            complete = False
            try:
                file = sink.open()
                for piece in response.iter_bytes():
                    file.write(piece)
                complete = True
            finally:
                sink.close(complete)
            return Reply(response.status_code, response.headers, b"")
        except httpx.TransportError as exc:
            return exc
        finally:
            response.close()
