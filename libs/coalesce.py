"""Request coalescing: concurrent calls of one key go out as one batch call.

``Coalescer("providers.LookupBatch", send, limit=1, max_items=256)`` wraps a batch operation
``send(key, items, timeout)`` that returns one result per item, in order. While fewer than
``limit`` calls of a key are in flight, a call goes out at the end of the turn of the event loop it
was made in, together with the other calls of the key made in that turn (callers that a merged
call answered at once and that go on to their next stage together); past that it waits, and the
next call to finish sends everything waiting for the key (up to ``max_items`` items) as one batch.
At low concurrency nothing waits and nothing changes; under load, N callers cost one batch call
instead of N, which is where a mesh of small calls spends its CPU (per message, not per item).
The histogram ``leadmesh.coalesced.items`` (by ``call``, the name) shows the items of each call.

A caller waits for a slot at most ``max_wait``: callers that get none in that time (the calls in
flight are slow) go out then, together, over the limit. So no call waits longer than ``max_wait``
behind slow calls, and merging goes on when every call is slow because the CPU is saturated, which
is when it pays most. A batch operation that answers when its slowest item is done (a unary call)
makes each caller of a merged call wait for its slowest batch-mate; where calls of a kind typically
(a moving average, timed with ``clock``) take longer than ``alone_after`` (a remote vendor, a
company's website), they go alone at once instead. A streamed operation answers each caller as its
own items are done and needs no such rule.

A batch gets the earliest deadline of its callers (nothing is done for a caller after it stopped
waiting), and a caller whose own deadline passes stops waiting (:class:`TimeoutError`) without
cancelling the batch for the others; one whose batch is not sent yet is left out of it. A batch
runs in the context (request id, trace) of its first caller. A batch's failure is each of its
callers' failure, unless ``isolate(error)`` says the error may belong to one caller's items (a
rejected argument): then each caller's items are sent again on their own, so one bad call never
fails the others.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from libs.telemetry import meter

__all__ = ["Coalescer", "Send", "Stream"]

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741 - item
R = TypeVar("R")

_ITEMS_PER_CALL = meter("leadmesh.coalesce").create_histogram(
    "leadmesh.coalesced.items",
    unit="{item}",
    description="Items per call a coalescer sent (1: a call alone), by call",
    explicit_bucket_boundaries_advisory=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000],
)

# How long a call waits for a slot before the calls waiting go out together, over the limit: a
# slow call in flight (a store hiccup) delays the calls behind it by this much at most.
MAX_WAIT = 0.05
# The weight of the latest call in the moving average of how long calls take.
TYPICAL_WEIGHT = 0.2

Send = Callable[[K, list[I], "float | None"], Awaitable[Sequence[R]]]
# A batch operation that answers each item as it is done: (its position, its result), each once.
Stream = Callable[[K, list[I], "float | None"], AsyncIterator[tuple[int, R]]]


@dataclass
class _Waiting(Generic[I, R]):
    items: list[I]
    future: asyncio.Future[list[R]]
    deadline: float | None  # loop time
    context: contextvars.Context  # the caller's (request id, trace): its batch runs in it
    sent: bool = False


@dataclass
class _Key(Generic[I, R]):
    in_flight: int = 0
    waiting: deque[_Waiting[I, R]] = field(default_factory=deque)


class Coalescer(Generic[K, I, R]):
    def __init__(
        self,
        name: str,
        send: Send[K, I, R] | None = None,
        *,
        stream: Stream[K, I, R] | None = None,
        limit: int,
        max_items: int,
        isolate: Callable[[BaseException], bool] = lambda error: False,
        max_wait: float = MAX_WAIT,
        alone_after: float | None = None,
        same_turn: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        if limit < 1 or max_items < 1:
            raise ValueError("limit and max_items are at least 1")
        if (send is None) == (stream is None):
            raise ValueError("give either send or stream")
        self.send = send
        self.stream = stream
        self.limit = limit
        self.max_items = max_items
        self.max_wait = max_wait
        # How long a call typically takes (moving average). Past ``alone_after`` calls go alone:
        # merged, each caller would wait for its slowest batch-mate on someone else's servers.
        self.typical = 0.0
        self.alone_after = alone_after
        # With a free slot, a call waits for the end of its loop turn and goes with the calls of
        # its key made in that turn; without, it goes alone at once (the others queue behind it).
        self.same_turn = same_turn
        self._clock = clock  # what the calls are timed with (tests move their own)
        self.isolate = isolate
        self.name = name
        self._keys: dict[K, _Key[I, R]] = {}
        self._batches: set[asyncio.Task[None]] = set()

    async def __call__(self, key: K, items: Sequence[I], timeout: float | None = None) -> list[R]:
        """The results of ``items`` (one per item, in order), sent alone or with other callers'."""
        if not items:
            return []
        if len(items) >= self.max_items:  # as big as a batch: at once, taking no one's slot
            return await self._send(key, list(items), timeout)
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        if self._slow():
            return await self._alone(key, state, list(items), timeout)
        if state.in_flight < self.limit and not state.waiting:
            if not self.same_turn:
                return await self._alone(key, state, list(items), timeout)
            return await self._first(key, state, list(items), timeout)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        waiting = _Waiting(list(items), loop.create_future(), deadline, contextvars.copy_context())
        state.waiting.append(waiting)
        # Two timers, not asyncio.timeout and asyncio.wait (a waiter future, callbacks and a loop
        # turn more each): a caller waits on its own future and nothing else.
        no_slot = loop.call_later(self.max_wait, self._go_now, key, state, waiting)
        late = None if timeout is None else loop.call_later(timeout, _stop_waiting, waiting.future)
        try:
            return await waiting.future
        except BaseException:  # timed out or cancelled: left out of the batch if not sent yet
            waiting.future.cancel()
            raise
        finally:
            no_slot.cancel()
            if late is not None:
                late.cancel()

    async def _first(self, key: K, state: _Key[I, R], items: list[I], timeout: float | None) -> list[R]:
        """A call with a free slot goes at the end of this turn of the loop, with the calls of the
        key made in the same turn (the callers a merged call answered at once, going on to their
        next stage together), instead of alone now and the others after it. Alone, it goes from
        this task; with others, as a batch in a task of its own (a caller that stops waiting does
        not cancel it for the others)."""
        state.in_flight += 1  # the slot is this call's: the calls made meanwhile queue behind it
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            await asyncio.sleep(0)
        except BaseException:
            self._done(key, state)
            raise
        if not state.waiting:
            try:
                return await self._send(key, items, timeout)
            finally:
                self._done(key, state)
        mine = _Waiting(items, loop.create_future(), deadline, contextvars.copy_context(), sent=True)
        batch = self._take(state, [mine])
        task = loop.create_task(self._batch(key, state, batch), context=mine.context)
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)
        try:
            return await mine.future
        except BaseException:
            mine.future.cancel()
            raise

    def _go_now(self, key: K, state: _Key[I, R], waiting: _Waiting[I, R]) -> None:
        """No slot in max_wait: the calls waiting go now, together (``waiting`` among them)."""
        while not waiting.sent and not waiting.future.done() and self._send_waiting(key, state):
            pass

    def _slow(self) -> bool:
        return self.alone_after is not None and self.typical > self.alone_after

    async def _alone(self, key: K, state: _Key[I, R], items: list[I], timeout: float | None) -> list[R]:
        state.in_flight += 1
        try:
            return await self._send(key, items, timeout)
        finally:
            self._done(key, state)

    async def _send(self, key: K, items: list[I], timeout: float | None) -> list[R]:
        if self.stream is not None:
            got = {position: result async for position, result in self._answers(key, items, timeout)}
            if len(got) != len(items):
                raise RuntimeError(f"a batch of {len(items)} items answered {len(got)} results")
            return [got[position] for position in range(len(items))]
        return await self._call(key, items, timeout)

    async def _call(self, key: K, items: list[I], timeout: float | None) -> list[R]:
        """The batch operation's results for ``items``; the call timed and counted."""
        assert self.send is not None
        _ITEMS_PER_CALL.record(len(items), {"call": self.name})
        began = self._clock()
        try:
            results = list(await self.send(key, items, timeout))
        finally:
            self.typical += TYPICAL_WEIGHT * (self._clock() - began - self.typical)
        if len(results) != len(items):
            raise RuntimeError(f"a batch of {len(items)} items answered {len(results)} results")
        return results

    async def _answers(self, key: K, items: list[I], timeout: float | None) -> AsyncIterator[tuple[int, R]]:
        """Each item's (position, result) as the call answers it."""
        if self.stream is None:
            for answer in enumerate(await self._call(key, items, timeout)):
                yield answer
            return
        _ITEMS_PER_CALL.record(len(items), {"call": self.name})
        began = self._clock()
        try:
            async for answer in self.stream(key, items, timeout):
                yield answer
        finally:
            self.typical += TYPICAL_WEIGHT * (self._clock() - began - self.typical)

    def _done(self, key: K, state: _Key[I, R]) -> None:
        state.in_flight -= 1
        while state.in_flight < self.limit and state.waiting:
            if not self._send_waiting(key, state):
                break
        if not state.in_flight and not state.waiting:
            self._keys.pop(key, None)

    def _send_waiting(self, key: K, state: _Key[I, R]) -> bool:
        """Sends the next batch of waiting callers (in the context of a caller in it, not of the
        call whose end sent it); False when none was left waiting."""
        batch = self._take(state)
        if not batch:
            return False
        state.in_flight += 1
        task = asyncio.get_running_loop().create_task(
            self._batch(key, state, batch), context=batch[0].context
        )
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)
        return True

    def _take(self, state: _Key[I, R], batch: list[_Waiting[I, R]] | None = None) -> list[_Waiting[I, R]]:
        """The next batch (``batch`` and then) waiting callers in arrival order (those gone
        skipped), up to max_items items, the first always."""
        batch = batch or []
        size = sum(len(waiting.items) for waiting in batch)
        while state.waiting:
            waiting = state.waiting[0]
            if waiting.future.done():
                state.waiting.popleft()
                continue
            if batch and size + len(waiting.items) > self.max_items:
                break
            batch.append(state.waiting.popleft())
            waiting.sent = True
            size += len(waiting.items)
        return batch

    async def _batch(self, key: K, state: _Key[I, R], batch: list[_Waiting[I, R]]) -> None:
        try:
            await self._answer(key, batch)
        finally:
            self._done(key, state)

    async def _answer(self, key: K, batch: list[_Waiting[I, R]]) -> None:
        """Answers each caller of ``batch`` as soon as all its items are (a stream may finish some
        callers long before its slowest item)."""
        items = [item for waiting in batch for item in waiting.items]
        owners = [(n, mine) for n, waiting in enumerate(batch) for mine in range(len(waiting.items))]
        got: list[dict[int, R]] = [{} for _ in batch]
        try:
            async for position, result in self._answers(key, items, _earliest(batch)):
                n, mine = owners[position]
                got[n][mine] = result
                waiting = batch[n]
                if len(got[n]) == len(waiting.items) and not waiting.future.done():
                    waiting.future.set_result([got[n][k] for k in range(len(waiting.items))])
        except Exception as error:
            unanswered = [
                w for n, w in enumerate(batch) if len(got[n]) < len(w.items) and not w.future.done()
            ]
            if len(batch) > 1 and self.isolate(error):
                await asyncio.gather(*(self._answer(key, [waiting]) for waiting in unanswered))
                return
            for waiting in unanswered:
                waiting.future.set_exception(error)
            return
        except BaseException:  # cancelled (shutting down): its callers must not wait forever
            for waiting in batch:
                waiting.future.cancel()
            raise
        for n, waiting in enumerate(batch):
            if len(got[n]) < len(waiting.items) and not waiting.future.done():
                waiting.future.set_exception(
                    RuntimeError(
                        f"a batch of {len(items)} items left {len(waiting.items) - len(got[n])} unanswered"
                    )
                )


def _stop_waiting(future: asyncio.Future[Any]) -> None:
    """A caller's own deadline passed: it stops waiting (its batch, if sent, goes on for others)."""
    if not future.done():
        future.set_exception(TimeoutError())


def _earliest(batch: Sequence[_Waiting[I, R]]) -> float | None:
    """The timeout of a batch: until its callers' earliest deadline (none if none has one), so
    that nothing is done for a caller after it has stopped waiting (a charge it was told failed)."""
    deadlines = [waiting.deadline for waiting in batch if waiting.deadline is not None]
    if not deadlines:
        return None
    return max(0.001, min(deadlines) - asyncio.get_running_loop().time())
