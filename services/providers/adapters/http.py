"""Calling one HTTP provider: the pooled client, the provider's own timeout, concurrency limit,
retries on 429 (waiting what Retry-After asks) and circuit breaker. The client is a
:func:`libs.safe_http.guarded_client`: it checks each address it connects to, and a provider URL
that resolves to a non-public address fails with FORBIDDEN_ADDRESS.

Every failure becomes a ``CallFailed`` with a stable reason (HTTP_500, RATE_LIMITED, TIMEOUT,
MALFORMED_RESPONSE, CIRCUIT_OPEN, FORBIDDEN_ADDRESS, ...), which the adapters turn into a
``ProviderFailure`` for the lead: a failing provider never fails the lookup.

The state of every caller's circuit is the gauge ``leadmesh.providers.circuit_state`` by
provider: 0 closed, 1 half-open, 2 open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry.metrics import CallbackOptions, Observation

from libs.safe_http import ResponseTooLarge, UnsafeDestination, UnsupportedEncoding
from libs.telemetry import meter
from services.providers.adapters.resilience import BreakerState, CircuitBreaker, retry_after_seconds

__all__ = ["CIRCUIT_STATE_VALUES", "CallFailed", "CallPolicy", "HttpCaller", "NOT_FOUND"]

log = logging.getLogger(__name__)

# The answer of a call that found nothing (a configured "not found" status).
NOT_FOUND: Any = object()

# What the circuit-state gauge reports for each state.
CIRCUIT_STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
# The callers of this process, for the gauge (one per configured provider).
_CALLERS: weakref.WeakSet[HttpCaller] = weakref.WeakSet()


def _circuit_states(options: CallbackOptions) -> Iterable[Observation]:
    for caller in list(_CALLERS):
        yield Observation(CIRCUIT_STATE_VALUES[caller.breaker.state], {"provider": caller.name})


meter("leadmesh.providers").create_observable_gauge(
    "leadmesh.providers.circuit_state",
    callbacks=[_circuit_states],
    description="Circuit breaker of each provider: 0 closed, 1 half-open, 2 open",
)


class CallFailed(Exception):
    def __init__(self, reason: str, timeout: bool = False, circuit_open: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout
        self.circuit_open = circuit_open


@dataclass(frozen=True)
class CallPolicy:
    timeout: float = 5.0
    concurrency: int = 8
    max_retries: int = 2
    max_retry_after: float = 10.0
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0
    not_found_status: frozenset[int] = frozenset({404})


class HttpCaller:
    """The calls of one provider. GET/POST JSON, answer the decoded body or NOT_FOUND."""

    def __init__(self, name: str, client: httpx.AsyncClient, policy: CallPolicy):
        self.name = name
        self.client = client
        self.policy = policy
        self.breaker = CircuitBreaker(policy.breaker_failures, policy.breaker_cooldown)
        self.gate = asyncio.Semaphore(policy.concurrency)
        _CALLERS.add(self)

    async def call(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        deadline: float | None = None,
    ) -> Any:
        """One request with its retries; ``deadline`` (time.monotonic()) bounds it all."""
        async with self.gate:
            if not self.breaker.allow():
                raise CallFailed("CIRCUIT_OPEN", circuit_open=True)
            try:
                answer = await self._attempts(method, url, params, headers, body, deadline)
            except CallFailed:
                self.breaker.failed()
                raise
            self.breaker.succeeded()
            return answer

    async def _attempts(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        body: Any,
        deadline: float | None,
    ) -> Any:
        policy = self.policy
        for attempt in range(policy.max_retries + 1):
            remaining = (
                policy.timeout if deadline is None else min(policy.timeout, deadline - time.monotonic())
            )
            if remaining <= 0:
                raise CallFailed("DEADLINE_EXCEEDED", timeout=True)
            try:
                response = await self.client.request(
                    method, url, params=params, headers=headers, json=body, timeout=remaining
                )
            except httpx.TimeoutException:
                raise CallFailed("TIMEOUT", timeout=True) from None
            except UnsafeDestination as refused:
                log.warning("provider address refused", extra={"provider": self.name, "error": str(refused)})
                raise CallFailed("FORBIDDEN_ADDRESS") from None
            except (ResponseTooLarge, UnsupportedEncoding) as refused:
                refusal = {"provider": self.name, "error": refused.message}
                log.warning("provider answer refused", extra=refusal)
                raise CallFailed("MALFORMED_RESPONSE") from None
            except httpx.HTTPError as error:
                log.info("provider unreachable", extra={"provider": self.name, "error": type(error).__name__})
                raise CallFailed("UNREACHABLE") from None
            status = response.status_code
            if status == 429 or (status == 503 and "retry-after" in response.headers):
                wait = retry_after_seconds(response.headers.get("retry-after"))
                wait = min(0.25 * 2**attempt, 2.0) if wait is None else wait
                left = float("inf") if deadline is None else deadline - time.monotonic()
                if attempt == policy.max_retries or wait > policy.max_retry_after or wait >= left:
                    raise CallFailed("RATE_LIMITED" if status == 429 else "HTTP_503")
                await asyncio.sleep(wait)
                continue
            if status in policy.not_found_status:
                return NOT_FOUND
            if status >= 300:
                raise CallFailed(f"HTTP_{status}")
            try:
                return json.loads(response.content)
            except (ValueError, UnicodeDecodeError):
                raise CallFailed("MALFORMED_RESPONSE") from None
        raise CallFailed("RATE_LIMITED")
