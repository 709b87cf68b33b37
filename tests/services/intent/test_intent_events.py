"""RecordEvents over gRPC: validation, aggregation per company, idempotency and account isolation."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from leadmesh.common.v1 import common_pb2
from leadmesh.intent.v1 import intent_service_pb2 as pb
from libs.errors import error_from_rpc
from libs.mongo import utc_now
from services.intent.event_store import EventStore, StoredAnswer
from tests.services.intent.conftest import Intent, IntentFactory, intent_settings
from tests.services.intent.web import Web

ENGAGEMENT = common_pb2.INTENT_CATEGORY_ENGAGEMENT


def ts(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def event(
    domain: str = "acme.com", kind: str = "pricing_page_view", days_ago: float = 1, **fields: str
) -> pb.WebEvent:
    return pb.WebEvent(
        domain=domain, type=kind, occurred_time=ts(datetime.now(UTC) - timedelta(days=days_ago)), **fields
    )


async def engagement(
    intent: Intent, account_id: str, domain: str = "acme.com"
) -> dict[str, common_pb2.IntentSignal]:
    response = await intent.stub.GetSignals(
        pb.GetSignalsRequest(account_id=account_id, company_domain=domain, categories=[ENGAGEMENT]), timeout=5
    )
    return {s.name: s for s in response.company.signals}


async def test_events_add_up_to_signals_with_counts_and_last_seen(intent: Intent) -> None:
    events = [
        event(days_ago=3, url="https://acme.com/pricing?a"),
        event(days_ago=1, url="https://acme.com/pricing"),
        event(domain="", email="jane@acme.com", days_ago=2),
        event(kind="demo_request", days_ago=0.5),
        event(domain="globex.com", kind="docs_view"),
    ]
    answer = await intent.stub.RecordEvents(
        pb.RecordEventsRequest(account_id="acct_a", events=events), timeout=5
    )
    assert (answer.accepted_count, list(answer.rejected)) == (5, [])
    signals = await engagement(intent, "acct_a")
    assert set(signals) == {"pricing_page_view", "demo_request"}
    pricing = signals["pricing_page_view"]
    assert (pricing.count, pricing.base_strength, pricing.source) == (3, 76, "web_events")
    last_seen = pricing.observed_time.ToDatetime(tzinfo=UTC)
    assert abs(last_seen - (datetime.now(UTC) - timedelta(days=1))) < timedelta(seconds=5)
    assert pricing.strength == round(76 * 0.5 ** (1 / 14))
    assert list(pricing.evidence) == ["https://acme.com/pricing", "1 identified visitor"]
    assert signals["demo_request"].count == 1
    assert set(await engagement(intent, "acct_a", "globex.com")) == {"docs_view"}


async def test_rejected_events_come_back_with_their_index_and_reason(intent: Intent) -> None:
    events = [
        event(),
        event(kind="mouse_wiggle"),
        pb.WebEvent(domain="acme.com", type="docs_view", occurred_time_text="last tuesday"),
        pb.WebEvent(
            domain="acme.com", type="docs_view", occurred_time=ts(datetime.now(UTC) + timedelta(hours=2))
        ),
        pb.WebEvent(type="docs_view"),
        pb.WebEvent(email="bob@gmail.com", type="docs_view"),
        pb.WebEvent(domain="acme.com", type="docs_view", occurred_time_text="2026-01-05T10:00:00+01:00"),
    ]
    answer = await intent.stub.RecordEvents(
        pb.RecordEventsRequest(account_id="acct_a", events=events), timeout=5
    )
    assert answer.accepted_count == 2
    assert [(r.index, r.reason) for r in answer.rejected] == [
        (1, "unknown_type"),
        (2, "unparseable_time"),
        (3, "future_time"),
        (4, "missing_domain"),
        (5, "personal_email"),
    ]
    assert "mouse_wiggle" in answer.rejected[0].message


async def test_a_retried_call_records_nothing_twice(intent: Intent) -> None:
    request = pb.RecordEventsRequest(
        account_id="acct_a", request_id="batch-42", events=[event(), event(), event(kind="nope")]
    )
    first = await intent.stub.RecordEvents(request, timeout=5)
    again = await intent.stub.RecordEvents(request, timeout=5)
    assert first == again
    assert (first.accepted_count, [r.index for r in first.rejected]) == (2, [2])
    assert (await engagement(intent, "acct_a"))["pricing_page_view"].count == 2
    # The same id with other events is a mistake, not a retry.
    other = pb.RecordEventsRequest(
        account_id="acct_a", request_id="batch-42", events=[event(kind="demo_request")]
    )
    with pytest.raises(grpc.aio.AioRpcError) as conflict:
        await intent.stub.RecordEvents(other, timeout=5)
    assert conflict.value.code() == grpc.StatusCode.ABORTED
    assert error_from_rpc(conflict.value).reason == "REQUEST_ID_REUSED"
    # Another account may use the same id for its own events.
    theirs = await intent.stub.RecordEvents(
        pb.RecordEventsRequest(
            account_id="acct_b", request_id="batch-42", events=[event(kind="demo_request")]
        ),
        timeout=5,
    )
    assert theirs.accepted_count == 1


async def test_one_accounts_events_never_show_in_another_accounts_signals(intent: Intent) -> None:
    await intent.stub.RecordEvents(
        pb.RecordEventsRequest(account_id="acct_a", events=[event(kind="demo_request")]), timeout=5
    )
    await intent.stub.RecordEvents(
        pb.RecordEventsRequest(account_id="acct_b", events=[event(kind="docs_view")]), timeout=5
    )
    assert set(await engagement(intent, "acct_a")) == {"demo_request"}
    assert set(await engagement(intent, "acct_b")) == {"docs_view"}
    assert await engagement(intent, "acct_c") == {}
    anonymous = await intent.stub.GetSignals(
        pb.GetSignalsRequest(company_domain="acme.com", categories=[ENGAGEMENT]), timeout=5
    )
    assert list(anonymous.company.signals) == []
    batch = await intent.stub.GetSignalsBatch(
        pb.GetSignalsBatchRequest(account_id="acct_b", company_domains=["acme.com"], categories=[ENGAGEMENT]),
        timeout=5,
    )
    assert [s.name for s in batch.companies[0].signals] == ["docs_view"]


async def test_events_older_than_the_window_do_not_count(intent: Intent) -> None:
    await intent.stub.RecordEvents(
        pb.RecordEventsRequest(account_id="acct_a", events=[event(days_ago=200), event(days_ago=1)]),
        timeout=5,
    )
    assert (await engagement(intent, "acct_a"))["pricing_page_view"].count == 1


async def test_at_most_a_thousand_events_per_call(intent: Intent) -> None:
    full = await intent.stub.RecordEvents(
        pb.RecordEventsRequest(account_id="acct_a", events=[event(kind="docs_view")] * 1000), timeout=10
    )
    assert full.accepted_count == 1000
    assert (await engagement(intent, "acct_a"))["docs_view"].count == 1000
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intent.stub.RecordEvents(
            pb.RecordEventsRequest(account_id="acct_a", events=[event()] * 1001), timeout=5
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(refused.value).reason == "TOO_MANY_EVENTS"


async def test_events_need_an_account(intent: Intent) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await intent.stub.RecordEvents(pb.RecordEventsRequest(events=[event()]), timeout=5)
    assert error_from_rpc(refused.value).reason == "ACCOUNT_REQUIRED"


async def test_expired_events_and_old_request_answers_are_purged(
    web: Web, start_intent: IntentFactory
) -> None:
    intent = await start_intent(intent_settings(web, intent_purge_interval=0.05))
    await intent.stub.RecordEvents(
        pb.RecordEventsRequest(account_id="acct_a", events=[event(days_ago=200), event(days_ago=100)]),
        timeout=5,
    )
    store = EventStore(intent.db)
    week_old = utc_now() - timedelta(days=8)
    await store.store_answer("acct_a", "old-request", StoredAnswer("h", 1, []), week_old)
    await store.store_answer("acct_a", "new-request", StoredAnswer("h", 1, []), utc_now())

    async def remaining() -> list[object]:
        return [doc["occurred_epoch"] async for doc in intent.db["intent_events"].find({})]

    deadline = time.monotonic() + 10  # the service's maintenance job purges every 50 ms
    while len(await remaining()) > 1 or await store.stored_answer("acct_a", "old-request") is not None:
        assert time.monotonic() < deadline, "not purged"
        await asyncio.sleep(0.02)
    assert len(await remaining()) == 1  # 90 days count, 30 more are kept, then they go
    assert await store.stored_answer("acct_a", "old-request") is None
    assert await store.stored_answer("acct_a", "new-request") is not None


async def test_signals_asked_again_read_nothing_and_new_events_count_at_once(
    intent: Intent, spans: InMemorySpanExporter
) -> None:
    """A company's state and an account's engagement totals are kept in-process a few seconds:
    asking again reads nothing from the store, and events this server records count at once."""
    await intent.stub.RecordEvents(pb.RecordEventsRequest(account_id="acct_c", events=[event()]), timeout=5)
    assert set(await engagement(intent, "acct_c")) == {"pricing_page_view"}
    await engagement(intent, "acct_c")  # the company is tracked now: its state is read and kept
    spans.clear()
    assert set(await engagement(intent, "acct_c")) == {"pricing_page_view"}
    assert not [span for span in spans.get_finished_spans() if span.name.startswith("find ")]

    await intent.stub.RecordEvents(
        pb.RecordEventsRequest(account_id="acct_c", events=[event(kind="demo_request")]), timeout=5
    )
    assert set(await engagement(intent, "acct_c")) == {"pricing_page_view", "demo_request"}
