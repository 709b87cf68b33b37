"""libs.ttlcache: entries expire, the least recently used goes first, a ttl of 0 keeps nothing."""

from __future__ import annotations

import pytest

from libs.ttlcache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_is_served_until_its_ttl_passes() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(5.0, 10, clock)
    cache.put("a", 1)
    clock.now += 4.9
    assert cache.get("a") == 1
    clock.now += 0.1
    assert cache.get("a") is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: TtlCache[str, int] = TtlCache(60.0, 2, Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now "b" is the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_a_put_may_name_its_own_ttl_and_zero_keeps_nothing() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(60.0, 10, clock)
    cache.put("short", 1, ttl=1.0)
    cache.put("none", 2, ttl=0)
    clock.now += 2
    assert cache.get("short") is None
    assert cache.get("none") is None
    disabled: TtlCache[str, int] = TtlCache(0.0, 10, clock)
    disabled.put("a", 1)
    assert disabled.get("a") is None


def test_drop_and_clear_forget_entries() -> None:
    cache: TtlCache[str, int] = TtlCache(60.0, 10, Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    cache.drop("a")
    cache.drop("missing")
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    cache.clear()
    assert cache.get("b") is None


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError):
        TtlCache(1.0, 0)
