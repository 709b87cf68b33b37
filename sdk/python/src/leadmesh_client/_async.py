"""``AsyncLeadmesh``: the asyncio client, the same surface as ``Leadmesh`` with awaitables and
async iterators. It drives the same plans with an ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

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

__all__ = ["AsyncLeadmesh"]

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A", bound=Answer)


class _Resource:
    def __init__(self, client: AsyncLeadmesh) -> None:
        self._client = client


def _op(plan: Callable[P, Plan[T]]) -> Callable[Concatenate[_Resource, P], Coroutine[Any, Any, T]]:
    async def method(self: _Resource, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._client._run(plan(*args, **kwargs))

    return method_like(method, plan)  # type: ignore[no-any-return]


def _pages(pages: Callable[P, plans.Pages[A]]) -> Callable[Concatenate[_Resource, P], AsyncIterator[A]]:
    def method(self: _Resource, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[A]:
        return self._client._iterate(pages(*args, **kwargs))

    return method_like(method, pages, "AsyncIterator[{}]")  # type: ignore[no-any-return]


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


class AsyncLeadmesh:
    """The leadmesh API for asyncio; arguments as ``Leadmesh``'s."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._options = ClientOptions.resolve(api_key, base_url, timeout, max_retries)
        self._http = http_client or httpx.AsyncClient()
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

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncLeadmesh:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _run(self, plan: Plan[T]) -> T:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Call):
                    step = plan.send(await self._send(step))
                else:
                    await asyncio.sleep(step.seconds)
                    step = plan.send(None)
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            plan.close()

    async def _iterate(self, pages: plans.Pages[A]) -> AsyncIterator[A]:
        call: Call | None = pages.first
        while call is not None:
            body = final(await self._send(call)).json()
            for item in pages.items(body):
                yield item
            call = next_page(call, body)

    async def _send(self, call: Call) -> Reply:
        attempt = 0
        while True:
            outcome = await self._attempt(call)
            delay = retry_delay(call, attempt, self._options.max_retries, outcome)
            if delay is None:
                return final(outcome)
            await asyncio.sleep(delay)
            attempt += 1

    async def _attempt(self, call: Call) -> Reply | Exception:
        options = self._options
        request = self._http.build_request(
            call.method, options.base_url + call.path, **call.request_args(options.timeout)
        )
        request.headers.update({k: v for k, v in options.headers().items() if k not in call.headers})
        request.headers.update(call.headers)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            return exc
        try:
            if not _streams(call, response.status_code, response.headers):
                return Reply(response.status_code, response.headers, await response.aread())
            assert call.output is not None
            sink = Sink(call.output)
            complete = False
            try:
                file = sink.open()
                async for piece in response.aiter_bytes():
                    file.write(piece)
                complete = True
            finally:
                sink.close(complete)
            return Reply(response.status_code, response.headers, b"")
        except httpx.TransportError as exc:
            return exc
        finally:
            await response.aclose()
