"""Per-API-key rate limits: an in-process token bucket per key prefix.

Each gateway process keeps its own buckets, so with N gateway replicas a key gets up to N times
the configured rate; a shared limiter (e.g. in Redis) would be needed for an exact global limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Decision", "TokenBuckets"]


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
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
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
