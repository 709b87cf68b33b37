"""A small in-process cache: each entry kept ``ttl`` seconds, at most ``size`` entries, the least
recently used dropped first.

For values a service reads on every request and that change rarely (an API key's account, an
account's ICP profile or settings, a domain's mail facts): a hit saves a store round trip. What
another replica changes is seen after at most ``ttl`` seconds; a service drops its own entry when
it changes the value itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic):
        if size < 1:
            raise ValueError("a cache holds at least one entry")
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return hit[1]

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        """Keeps ``value`` for ``ttl`` seconds (the cache's own by default; 0 keeps nothing)."""
        ttl = self.ttl if ttl is None else ttl
        if ttl <= 0:
            return
        self._entries[key] = (self.clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
