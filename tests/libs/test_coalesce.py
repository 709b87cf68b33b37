"""libs.coalesce: while slots are free a call goes out without waiting, with the calls made in the
same turn of the loop; past the limit, waiting calls of a key go out as one batch, each caller with
its own results, its own deadline and (when isolated) its own failure; nothing is left behind for a
key once its calls are done."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from libs.coalesce import Coalescer
from tests.metric_points import points_where
from tests.waiting import eventually

ITEMS_PER_CALL = "leadmesh.coalesced.items"


@dataclass
class Sent:
    """One call the batch operation received, held until ``release`` is set when the backend holds."""

    key: str
    items: list[int]
    timeout: float | None
    release: asyncio.Event = field(default_factory=asyncio.Event)


class Backend:
    """The batch operation a coalescer wraps: one answer per item (``item * 10``), a whole batch
    rejected (ValueError) when it holds a negative item, every call recorded, and each call held
    until released while ``hold`` is true."""

    def __init__(self, *, hold: bool = True) -> None:
        self.hold = hold
        self.sent: list[Sent] = []

    async def send(self, key: str, items: list[int], timeout: float | None) -> list[int]:
        call = Sent(key, list(items), timeout)
        self.sent.append(call)
        if self.hold:
            try:
                async with asyncio.timeout(2):
                    await call.release.wait()
            except TimeoutError:
                raise AssertionError(f"the call of {items} was never released") from None
        else:
            await asyncio.sleep(0)  # an answer takes a moment even unheld
        if any(item < 0 for item in items):
            raise ValueError(f"rejected {items}")
        return [item * 10 for item in items]

    async def nth(self, index: int) -> Sent:
        """The ``index``-th call received, once it has been received."""
        await until(lambda: len(self.sent) > index)
        return self.sent[index]

    def batches(self) -> list[list[int]]:
        return [call.items for call in self.sent]


async def until(condition: Callable[[], bool]) -> None:
    await eventually(condition, within=1, interval=0)


async def settle() -> None:
    """Let every task that can make progress do so."""
    for _ in range(20):
        await asyncio.sleep(0)


async def timed_out(call: asyncio.Task[list[int]]) -> None:
    """Assert ``call`` ends with its own TimeoutError within a second (rather than hanging)."""
    await asyncio.wait([call], timeout=1)
    assert call.done(), "the caller's timeout did not end its wait"
    with pytest.raises(TimeoutError):
        await call


async def assert_idle(coalescer: Coalescer[str, int, int]) -> None:
    await settle()
    assert coalescer._keys == {}, "state left behind for a key whose calls are all done"
    assert coalescer._batches == set()


def coalescer_of(
    backend: Backend,
    *,
    limit: int = 1,
    max_items: int = 100,
    max_wait: float = 30.0,
    same_turn: bool = True,
    clock: Callable[[], float] = lambda: 0.0,
) -> Coalescer[str, int, int]:
    """A coalescer whose callers wait for a slot as long as it takes, unless ``max_wait`` says, and
    whose calls take no time unless the test moves ``clock``."""
    return Coalescer(
        f"test.{uuid.uuid4().hex[:8]}",
        backend.send,
        limit=limit,
        max_items=max_items,
        max_wait=max_wait,
        same_turn=same_turn,
        clock=clock,
    )


async def test_below_the_limit_a_call_goes_out_at_once_alone_with_its_own_timeout() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=2)
    first = asyncio.create_task(coalescer("k", [1, 2], timeout=2.5))
    assert (await backend.nth(0)).items == [1, 2]
    second = asyncio.create_task(coalescer("k", [3]))  # one slot of two is still free
    sent = await backend.nth(1)
    assert (sent.key, sent.items, sent.timeout) == ("k", [3], None)
    assert backend.sent[0].timeout == pytest.approx(2.5, abs=0.05)  # what is left of it
    sent.release.set()
    assert await second == [30]
    assert not first.done(), "the first call's answer came from someone else's batch"
    backend.sent[0].release.set()
    assert await first == [10, 20]
    assert backend.batches() == [[1, 2], [3]]
    await assert_idle(coalescer)


async def test_past_the_limit_waiting_calls_go_out_as_one_batch_when_a_slot_frees() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=2)
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    second = asyncio.create_task(coalescer("k", [2]))
    await backend.nth(1)
    waiting = [asyncio.create_task(coalescer("k", items)) for items in ([3, 4], [5], [6, 7, 8])]
    await settle()
    assert backend.batches() == [[1], [2]], "a call went out past the limit"
    assert not any(task.done() for task in waiting)

    backend.sent[0].release.set()
    assert await first == [10]
    batch = await backend.nth(2)
    assert batch.items == [3, 4, 5, 6, 7, 8]
    assert not second.done()
    batch.release.set()
    assert await asyncio.gather(*waiting) == [[30, 40], [50], [60, 70, 80]]
    backend.sent[1].release.set()
    assert await second == [20]
    assert len(backend.sent) == 3, "the waiting calls were not sent as one batch"
    await assert_idle(coalescer)


async def test_different_keys_never_share_a_batch_nor_wait_for_each_other() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1)
    a_first = asyncio.create_task(coalescer("a", [1]))
    await backend.nth(0)
    b_first = asyncio.create_task(coalescer("b", [2]))
    sent = await backend.nth(1)
    assert (sent.key, sent.items) == ("b", [2]), "key b waited for key a's slot"
    a_waiting = asyncio.create_task(coalescer("a", [3]))
    b_waiting = asyncio.create_task(coalescer("b", [4]))
    await settle()
    assert len(backend.sent) == 2

    backend.hold = False
    backend.sent[0].release.set()
    backend.sent[1].release.set()
    assert await asyncio.gather(a_first, b_first, a_waiting, b_waiting) == [[10], [20], [30], [40]]
    assert sorted((call.key, call.items) for call in backend.sent[2:]) == [("a", [3]), ("b", [4])]
    await assert_idle(coalescer)


async def test_waiting_calls_are_split_into_batches_of_at_most_max_items_without_splitting_a_call() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1, max_items=4)
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    waiting = [asyncio.create_task(coalescer("k", items)) for items in ([2, 3, 4], [5, 6], [7])]
    await settle()

    backend.sent[0].release.set()
    batch = await backend.nth(1)
    assert batch.items == [2, 3, 4], "a batch went past max_items or split a caller's items"
    await settle()
    assert len(backend.sent) == 2, "a second batch went out past the limit"
    batch.release.set()
    batch = await backend.nth(2)
    assert batch.items == [5, 6, 7]
    batch.release.set()
    assert await first == [10]
    assert await asyncio.gather(*waiting) == [[20, 30, 40], [50, 60], [70]]
    await assert_idle(coalescer)


async def test_a_call_of_max_items_or_more_goes_out_at_once_alone_even_with_the_slots_full() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1, max_items=3)
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    small = asyncio.create_task(coalescer("k", [2]))
    big = asyncio.create_task(coalescer("k", [3, 4, 5]))
    bigger = asyncio.create_task(coalescer("k", [6, 7, 8, 9]))
    await until(lambda: len(backend.sent) == 3)
    assert backend.batches() == [[1], [3, 4, 5], [6, 7, 8, 9]]
    backend.sent[1].release.set()
    backend.sent[2].release.set()
    assert await big == [30, 40, 50]
    assert await bigger == [60, 70, 80, 90]
    assert not small.done()

    backend.sent[0].release.set()
    (await backend.nth(3)).release.set()
    assert await first == [10]
    assert await small == [20]
    assert backend.batches()[3] == [2]
    await assert_idle(coalescer)


async def test_a_caller_whose_timeout_passes_fails_alone_and_the_batch_gets_the_earliest_deadline() -> None:
    """The batch's timeout is its callers' earliest deadline: nothing is done for a caller after
    it stopped waiting (a charge it was told failed)."""
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1)
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    hasty = asyncio.create_task(coalescer("k", [2], timeout=0.1))
    patient = asyncio.create_task(coalescer("k", [3], timeout=5.0))
    await settle()
    backend.sent[0].release.set()
    batch = await backend.nth(1)
    assert batch.items == [2, 3]
    assert batch.timeout is not None and batch.timeout <= 0.1, (
        f"the batch's timeout {batch.timeout} is not the earliest deadline of its callers"
    )

    await timed_out(hasty)  # while its batch is still held
    assert not patient.done(), "one caller's timeout ended another's call"
    batch.release.set()
    assert await patient == [30]
    assert await first == [10]
    await assert_idle(coalescer)


async def test_a_caller_gone_before_its_batch_is_sent_is_left_out_of_it() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1)
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    hasty = asyncio.create_task(coalescer("k", [2], timeout=0.05))
    patient = asyncio.create_task(coalescer("k", [3]))
    await timed_out(hasty)
    backend.hold = False
    backend.sent[0].release.set()
    assert await patient == [30]
    assert await first == [10]
    assert backend.batches() == [[1], [3]]
    await assert_idle(coalescer)


async def test_a_batch_has_the_timeout_of_its_callers_that_have_one() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1)
    first = asyncio.create_task(coalescer("k", [1], timeout=5.0))
    await backend.nth(0)
    waiting = [
        asyncio.create_task(coalescer("k", [2], timeout=5.0)),
        asyncio.create_task(coalescer("k", [3])),
    ]
    await settle()
    backend.hold = False
    backend.sent[0].release.set()
    assert await asyncio.gather(*waiting) == [[20], [30]]
    assert await first == [10]
    batch = backend.sent[1]
    assert batch.items == [2, 3]
    assert batch.timeout is not None and 4.0 < batch.timeout <= 5.0
    await assert_idle(coalescer)


async def test_a_batch_of_callers_without_deadlines_has_none() -> None:
    backend = Backend(hold=False)
    coalescer = coalescer_of(backend, limit=1)
    calls = [asyncio.create_task(coalescer("k", [n])) for n in (1, 2, 3)]
    first = await backend.nth(0)
    calls += [asyncio.create_task(coalescer("k", [n])) for n in (4, 5)]
    assert await asyncio.gather(*calls) == [[10], [20], [30], [40], [50]]
    assert backend.batches() == [[1, 2, 3], [4, 5]]
    assert [call.timeout for call in backend.sent] == [None, None]
    assert first.timeout is None
    await assert_idle(coalescer)


async def test_calls_made_in_one_turn_of_the_loop_go_out_as_one_batch_though_a_slot_is_free() -> None:
    """The callers a merged call answers go on to their next stage in the same turn of the loop:
    they make one call there, not one alone and one of the others behind it."""
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1)
    calls = [asyncio.create_task(coalescer("k", [n], timeout=5.0)) for n in (1, 2, 3)]
    batch = await backend.nth(0)
    await settle()
    assert backend.batches() == [[1, 2, 3]]
    batch.release.set()
    assert await asyncio.gather(*calls) == [[10], [20], [30]]
    alone = asyncio.create_task(coalescer("k", [4]))
    (await backend.nth(1)).release.set()
    assert await alone == [40]
    assert backend.batches() == [[1, 2, 3], [4]]
    await assert_idle(coalescer)


async def test_without_same_turn_a_call_with_a_free_slot_goes_alone_at_once() -> None:
    """``same_turn=False`` (billing's charges): the first call goes at once, alone; the calls made
    in the same turn wait for it and go together after it."""
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1, same_turn=False)
    calls = [asyncio.create_task(coalescer("k", [n], timeout=5.0)) for n in (1, 2, 3)]
    (await backend.nth(0)).release.set()
    (await backend.nth(1)).release.set()
    assert await asyncio.gather(*calls) == [[10], [20], [30]]
    assert backend.batches() == [[1], [2, 3]]
    await assert_idle(coalescer)


async def test_calls_that_get_no_slot_in_max_wait_go_out_then_together_over_the_limit() -> None:
    """A slow call in flight delays the calls behind it by max_wait at most, and they still merge:
    when every call is slow because the CPU is saturated, merging is what relieves it."""
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1, max_wait=0.05)
    slow = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    behind = [asyncio.create_task(coalescer("k", [n], timeout=5.0)) for n in (2, 3)]
    sent = await backend.nth(1)
    assert sent.items == [2, 3] and not slow.done()
    assert sent.timeout is not None and 4.0 < sent.timeout <= 5.0
    sent.release.set()
    assert await asyncio.gather(*behind) == [[20], [30]]
    backend.sent[0].release.set()
    assert await slow == [10]
    assert len(backend.sent) == 2
    await assert_idle(coalescer)


async def test_a_call_as_big_as_a_batch_takes_no_slot() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1, max_items=3)
    big = asyncio.create_task(coalescer("k", [1, 2, 3]))
    await backend.nth(0)
    small = asyncio.create_task(coalescer("k", [4]))
    sent = await backend.nth(1)  # at once: the big call is not in flight for the key
    assert sent.items == [4]
    sent.release.set()
    assert await small == [40]
    backend.sent[0].release.set()
    assert await big == [10, 20, 30]
    await assert_idle(coalescer)


async def test_a_failed_batch_fails_every_caller_in_it_with_the_same_error() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1)
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    waiting = [asyncio.create_task(coalescer("k", items)) for items in ([2], [-3], [4, 5])]
    await settle()
    backend.hold = False
    backend.sent[0].release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert await first == [10]
    error = outcomes[0]
    assert isinstance(error, ValueError)
    assert all(outcome is error for outcome in outcomes)
    assert backend.batches() == [[1], [2, -3, 4, 5]], "a batch was sent again without isolate"
    await assert_idle(coalescer)


async def test_with_isolate_only_the_caller_whose_items_were_rejected_fails() -> None:
    backend = Backend()
    coalescer: Coalescer[str, int, int] = Coalescer(
        "test.isolate",
        backend.send,
        limit=1,
        max_items=100,
        isolate=lambda error: isinstance(error, ValueError),
    )
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    good = asyncio.create_task(coalescer("k", [2]))
    bad = asyncio.create_task(coalescer("k", [-3]))
    also_good = asyncio.create_task(coalescer("k", [4, 5]))
    await settle()
    backend.hold = False
    backend.sent[0].release.set()
    assert await good == [20]
    assert await also_good == [40, 50]
    with pytest.raises(ValueError, match=r"rejected \[-3\]"):
        await bad
    assert await first == [10]
    assert backend.batches()[1] == [2, -3, 4, 5]
    assert sorted(backend.batches()[2:]) == [[-3], [2], [4, 5]], "each caller's items were not re-sent alone"
    await assert_idle(coalescer)


async def test_with_isolate_a_call_alone_that_fails_is_not_sent_again() -> None:
    backend = Backend(hold=False)
    coalescer: Coalescer[str, int, int] = Coalescer(
        "test.isolate_alone", backend.send, limit=1, max_items=100, isolate=lambda error: True
    )
    with pytest.raises(ValueError):
        await coalescer("k", [-1, 2])
    assert backend.batches() == [[-1, 2]]
    await assert_idle(coalescer)


async def test_an_answer_with_the_wrong_number_of_results_fails_the_callers() -> None:
    gate = asyncio.Event()
    sent: list[list[int]] = []

    async def short(key: str, items: list[int], timeout: float | None) -> list[int]:
        sent.append(list(items))
        await gate.wait()
        return [item * 10 for item in items][1:]

    coalescer: Coalescer[str, int, int] = Coalescer("test.short", short, limit=1, max_items=100)
    first = asyncio.create_task(coalescer("k", [1, 2]))
    await until(lambda: len(sent) == 1)
    waiting = [asyncio.create_task(coalescer("k", items)) for items in ([3], [4, 5])]
    await settle()
    gate.set()
    with pytest.raises(RuntimeError):
        await first
    for task in waiting:
        with pytest.raises(RuntimeError):
            await task
    assert sent == [[1, 2], [3, 4, 5]]
    await assert_idle(coalescer)


async def test_no_items_answer_no_results_without_a_call() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend)
    assert await coalescer("k", []) == []
    assert backend.sent == []
    await assert_idle(coalescer)


async def test_nothing_is_kept_for_keys_whose_calls_are_done() -> None:
    backend = Backend(hold=False)
    coalescer = coalescer_of(backend, limit=1)
    results = await asyncio.gather(*(coalescer(f"key{n % 50}", [n]) for n in range(200)))
    assert results == [[n * 10] for n in range(200)]
    assert len(backend.sent) < 200, "nothing was coalesced"
    await assert_idle(coalescer)

    backend.hold = True
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(len(backend.sent))
    hasty = asyncio.create_task(coalescer("k", [2], timeout=0.01))
    cancelled = asyncio.create_task(coalescer("k", [3]))
    await timed_out(hasty)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    backend.sent[-1].release.set()
    assert await first == [10]
    await assert_idle(coalescer)


async def test_the_items_of_each_call_sent_are_recorded_by_call_name(
    metric_reader: InMemoryMetricReader,
) -> None:
    name = f"test.metric.{uuid.uuid4().hex[:8]}"
    backend = Backend()
    coalescer: Coalescer[str, int, int] = Coalescer(name, backend.send, limit=1, max_items=100)
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    waiting = [asyncio.create_task(coalescer("k", items)) for items in ([2, 3], [4])]
    await settle()
    backend.hold = False
    backend.sent[0].release.set()
    await asyncio.gather(first, *waiting)
    assert await coalescer("k", [5, 6, 7, 8]) == [50, 60, 70, 80]

    [point] = points_where(metric_reader, ITEMS_PER_CALL, {"call": name})
    assert (point.count, point.sum, point.min, point.max) == (3, 8, 1, 4), (
        "not one record per call sent, of its items"
    )


@pytest.mark.parametrize(("limit", "max_items"), [(0, 10), (1, 0), (-1, 10)])
def test_a_limit_or_max_items_below_one_is_rejected(limit: int, max_items: int) -> None:
    with pytest.raises(ValueError):
        Coalescer("test.bad", Backend().send, limit=limit, max_items=max_items)


async def test_callers_of_a_batch_cancelled_midway_are_cancelled_too_not_left_waiting() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1)
    first = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    waiting = asyncio.create_task(coalescer("k", [2]))  # no timeout of its own
    await settle()
    backend.sent[0].release.set()
    assert await first == [10]
    await backend.nth(1)  # the batch carrying [2] is out
    for batch in list(coalescer._batches):
        batch.cancel()  # as at shutdown
    await asyncio.wait([waiting], timeout=1)
    assert waiting.done(), "a caller of a cancelled batch waits forever"
    assert waiting.cancelled()
    await assert_idle(coalescer)


async def test_a_batch_runs_in_the_context_of_a_caller_in_it_not_of_the_call_that_freed_its_slot() -> None:
    """Review finding: a merged call's request id and trace context (what its logs and spans are
    filed under, and what goes out in gRPC metadata) are one of its own callers', never those of
    the earlier call whose end sent it (with limit 1, a request that is not in the batch at all,
    and under steady load the very first request for as long as the key stays busy)."""
    from libs.jsonlog import request_id_var

    seen: list[tuple[str, list[int]]] = []
    release = asyncio.Event()

    async def send(key: str, items: list[int], timeout: float | None) -> list[int]:
        seen.append((request_id_var.get(), list(items)))
        await release.wait()
        return [item * 10 for item in items]

    coalescer: Coalescer[str, int, int] = Coalescer(
        "test.context", send, limit=1, max_items=100, max_wait=30.0
    )

    async def call(request_id: str, item: int) -> list[int]:
        request_id_var.set(request_id)
        return await coalescer("k", [item], 5)

    first = asyncio.create_task(call("req-first", 1))
    await until(lambda: len(seen) == 1)
    later = [asyncio.create_task(call(f"req-{n}", n)) for n in (2, 3)]
    await settle()
    release.set()
    assert await asyncio.gather(first, *later) == [[10], [20], [30]]
    assert [items for _, items in seen] == [[1], [2, 3]]
    assert seen[1][0] in {"req-2", "req-3"}, f"the merged call ran as {seen[1][0]!r}, not one of its callers"


async def test_the_typical_duration_of_calls_follows_how_long_they_take() -> None:
    now = [0.0]
    backend = Backend()
    coalescer = coalescer_of(backend, clock=lambda: now[0])
    call = asyncio.create_task(coalescer("k", [1]))
    sent = await backend.nth(0)
    now[0] += 0.3  # the call takes 0.3 s
    sent.release.set()
    assert await call == [10]
    assert 0.05 < coalescer.typical < 0.3


async def test_with_alone_after_calls_of_a_typically_slower_kind_go_alone_at_once() -> None:
    """A merged unary call lasts as long as its slowest item: where calls of a kind typically take
    longer than alone_after (a remote vendor), each goes alone rather than wait for a batch-mate."""
    backend = Backend()
    coalescer = Coalescer("test.alone", backend.send, limit=1, max_items=100, max_wait=30.0, alone_after=0.1)
    coalescer.typical = 0.6
    held = asyncio.create_task(coalescer("k", [2]))
    await backend.nth(0)
    behind = asyncio.create_task(coalescer("k", [3]))
    sent = await backend.nth(1)
    assert sent.items == [3], "it waited for a slot"
    sent.release.set()
    backend.sent[0].release.set()
    assert await asyncio.gather(held, behind) == [[20], [30]]
    await assert_idle(coalescer)


async def test_without_alone_after_calls_merge_however_long_calls_typically_take() -> None:
    """Calls slowed by a saturated CPU are typically slow too; merging them is what relieves it."""
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1, max_wait=0.05)
    coalescer.typical = 10.0
    held = asyncio.create_task(coalescer("k", [1]))
    await backend.nth(0)
    behind = [asyncio.create_task(coalescer("k", [n])) for n in (2, 3)]
    await settle()
    assert len(backend.sent) == 1, "a call went alone instead of waiting for the slot"
    backend.sent[0].release.set()
    merged = await backend.nth(1)
    assert merged.items == [2, 3]
    merged.release.set()
    assert await held == [10]
    assert await asyncio.gather(*behind) == [[20], [30]]
    await assert_idle(coalescer)


async def test_with_a_stream_each_caller_is_answered_when_its_own_items_are_not_the_batchs_last() -> None:
    """A batch operation that answers items as they are done (the verifier's VerifyBatch): a caller
    merged with a slow item gets its answers as soon as its own are in."""
    slow_done = asyncio.Event()
    first_release = asyncio.Event()
    sent: list[list[int]] = []

    async def stream(key: str, items: list[int], timeout: float | None) -> AsyncIterator[tuple[int, int]]:
        sent.append(list(items))
        if items == [1]:
            await first_release.wait()
        for position, item in sorted(enumerate(items), key=lambda answer: answer[1] == 99):
            if item == 99:  # a slow mail server, say
                await slow_done.wait()
            yield position, item * 10

    coalescer: Coalescer[str, int, int] = Coalescer(
        "test.stream", stream=stream, limit=1, max_items=100, max_wait=30.0
    )
    first = asyncio.create_task(coalescer("k", [1]))
    await until(lambda: len(sent) == 1)
    slow = asyncio.create_task(coalescer("k", [99]))
    quick = asyncio.create_task(coalescer("k", [2, 3]))
    await settle()
    first_release.set()
    assert await first == [10]
    assert await asyncio.wait_for(quick, 1) == [20, 30]  # while its batch-mate is still out
    assert sent == [[1], [99, 2, 3]] and not slow.done()
    slow_done.set()
    assert await slow == [990]
    await assert_idle(coalescer)


async def test_a_coalescer_takes_either_a_batch_operation_or_a_stream() -> None:
    async def send(key: str, items: list[int], timeout: float | None) -> list[int]:
        return items

    async def stream(key: str, items: list[int], timeout: float | None) -> AsyncIterator[tuple[int, int]]:
        yield 0, items[0]

    with pytest.raises(ValueError):
        Coalescer("test.neither", limit=1, max_items=1)
    with pytest.raises(ValueError):
        Coalescer("test.both", send, stream=stream, limit=1, max_items=1)


async def test_the_first_caller_of_a_batch_made_in_one_turn_stopping_does_not_stop_the_others() -> None:
    backend = Backend()
    coalescer = coalescer_of(backend, limit=1)
    first = asyncio.create_task(coalescer("k", [1]))
    others = [asyncio.create_task(coalescer("k", [n])) for n in (2, 3)]
    batch = await backend.nth(0)
    first.cancel()
    await settle()
    assert first.cancelled()
    batch.release.set()
    assert await asyncio.gather(*others) == [[20], [30]]
    assert backend.batches() == [[1, 2, 3]]
    await assert_idle(coalescer)
