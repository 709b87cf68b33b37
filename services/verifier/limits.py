"""Politeness towards mail servers: at most N concurrent sessions and R RCPT commands per second
to any one server address, however many domains and batches share it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["HostLimiter", "LimitWaitTimeout", "TokenBucket"]


class LimitWaitTimeout(Exception):
    """The deadline came before the limit let the caller through."""


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up. Tokens are reserved ahead (the level
    may go negative), so waiters are served in arrival order without polling."""

    rate: float
    burst: float
    level: float = field(init=False)
    updated: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.level = self.burst

    def _refill(self, now: float) -> None:
        if self.updated is not None:
            self.level = min(self.burst, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self, now: float) -> float:
        """Takes one token and returns the seconds to wait before using it (0 when at hand)."""
        self._refill(now)
        self.level -= 1
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def cancel(self) -> None:
        """Gives back a token reserved but not used."""
        self.level += 1

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.level >= self.burst


@dataclass
class _Host:
    sessions: asyncio.Semaphore
    bucket: TokenBucket
    users: int = 0


class HostLimiter:
    """Per server address: a semaphore for sessions and a token bucket for RCPT commands."""

    def __init__(self, concurrency: int, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.concurrency = concurrency
        self.rate = rate
        self.clock = clock
        self._hosts: dict[str, _Host] = {}

    def _host(self, key: str) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            burst = max(1.0, min(self.rate, float(self.concurrency)))
            host = self._hosts[key] = _Host(
                asyncio.Semaphore(self.concurrency), TokenBucket(self.rate, burst)
            )
        return host

    def _release(self, key: str, host: _Host) -> None:
        host.users -= 1
        if host.users == 0 and host.bucket.full(self.clock()):
            del self._hosts[key]

    def _remaining(self, deadline: float | None) -> float | None:
        return None if deadline is None else deadline - self.clock()

    @asynccontextmanager
    async def session(self, key: str, deadline: float | None) -> AsyncIterator[None]:
        """Holds one of the server's session slots; :class:`LimitWaitTimeout` past ``deadline``."""
        host = self._host(key)
        host.users += 1
        try:
            try:
                await asyncio.wait_for(host.sessions.acquire(), self._remaining(deadline))
            except TimeoutError:
                raise LimitWaitTimeout(f"all {self.concurrency} session slots of {key} stayed busy") from None
            try:
                yield
            finally:
                host.sessions.release()
        finally:
            self._release(key, host)

    async def pace(self, key: str, deadline: float | None) -> None:
        """Waits for the server's next RCPT token; :class:`LimitWaitTimeout` if it comes too late."""
        host = self._host(key)
        host.users += 1
        try:
            wait = host.bucket.reserve(self.clock())
            remaining = self._remaining(deadline)
            if remaining is not None and wait > remaining:
                host.bucket.cancel()
                raise LimitWaitTimeout(f"the rate limit of {key} leaves no room before the deadline")
            if wait > 0:
                await asyncio.sleep(wait)
        finally:
            self._release(key, host)

    @property
    def tracked(self) -> int:
        """Server addresses with state (busy, or not yet refilled)."""
        return len(self._hosts)
