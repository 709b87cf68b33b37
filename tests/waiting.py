"""Waiting for what happens in the background: ``await eventually(condition)`` polls until it
holds, and fails the test naming what it waited for when it does not in time.

A test waits for the event itself (this, an ``asyncio.Event`` its fake sets, a span or log line
the code writes when done), never for a fixed time; one that waits out a clock gives the code a
clock it moves by hand. A sleep left in a test is the test itself: a slow fake server, or time
that must pass (how long a message sat in its queue)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(
    condition: Callable[[], T | Awaitable[T]],
    *,
    within: float = 10.0,
    interval: float = 0.02,
    explain: Callable[[], object] | None = None,
) -> T:
    """The first true value of ``condition()`` (plain or async), tried every ``interval`` seconds
    (0: at each turn of the event loop); AssertionError after ``within`` seconds without one, with
    the condition's source and ``explain()`` (what the test can tell about why) in its message."""
    scope = asyncio.timeout(within)
    try:
        async with scope:
            while True:
                value = condition()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return cast(T, value)
                await asyncio.sleep(interval)
    except TimeoutError:
        if not scope.expired():  # the condition's own
            raise
    message = f"not true within {within} s: {_source(condition)}"
    if explain is not None:
        message += f"\n{explain()}"
    raise AssertionError(message)


def _source(condition: Callable[[], object]) -> str:
    name: str = getattr(condition, "__qualname__", repr(condition))
    if name.endswith("<lambda>"):
        with contextlib.suppress(OSError, TypeError):
            return inspect.getsource(condition).strip()
    return name
