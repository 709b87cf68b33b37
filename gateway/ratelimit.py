"""In-process limits: token buckets (per API key, per client address) and counters of what a
caller has under way (an account's uploads).

Each gateway process keeps its own, so with N gateway replicas a key gets up to N times the
configured rate; a shared limiter (e.g. in Redis) would be needed for an exact global limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Decision", "InFlight", "TokenBuckets"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until the bucket is full again, and (when refused) until one request is allowed.
    reset: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class TokenBuckets:
    """``rate`` requests per second per key, bursts up to ``burst``; at most ``max_keys`` buckets
    (the least recently used are forgotten, i.e. start full again)."""

    def __init__(
        self, rate: float, burst: int, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ):
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> Decision:
        """Spends a token of ``key``'s bucket if it has one."""
        return self._decide(key, spend=True)

    def peek(self, key: str) -> Decision:
        """Whether ``key``'s bucket has a token, spending none."""
        return self._decide(key, spend=False)

    def _decide(self, key: str, spend: bool) -> Decision:
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed and spend:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return Decision(
            allowed=allowed,
            limit=self.burst,
            remaining=int(tokens),
            reset=math.ceil((self.burst - tokens) / self.rate),
            retry_after=max(1, math.ceil((1.0 - tokens) / self.rate)),
        )


class InFlight:
    """How many of something each key has under way, at most ``limit`` at once."""

    def __init__(self, limit: int, retry_after: int = 5):
        self.limit = limit
        self.retry_after = retry_after
        self._counts: dict[str, int] = {}

    def refusal(self, key: str) -> Decision | None:
        """None when ``key`` may start one more, else the refusal (its headers)."""
        if self._counts.get(key, 0) < self.limit:
            return None
        return Decision(False, self.limit, 0, self.retry_after, self.retry_after)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Counts one under way for ``key`` while the block runs (check ``refusal`` first)."""
        self._counts[key] = self._counts.get(key, 0) + 1
        try:
            yield
        finally:
            left = self._counts[key] - 1
            if left:
                self._counts[key] = left
            else:
                del self._counts[key]
