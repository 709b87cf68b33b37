"""POST /v1/signals/events end to end: gateway, billing (the API key), intent and the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leadmesh.common.v1 import common_pb2
from leadmesh.intent.v1 import intent_service_pb2 as intent_pb
from tests.gateway.stack import Stack

ENGAGEMENT = [common_pb2.INTENT_CATEGORY_ENGAGEMENT]


def when(days_ago: float = 0.0, hours_ago: float = 1.0) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago, hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def post(stack: Stack, key: str, events: list[dict[str, Any]], **headers: str) -> Any:
    return await stack.http.post(
        "/v1/signals/events", json={"events": events}, headers={"Authorization": f"Bearer {key}", **headers}
    )


async def signals(stack: Stack, account_id: str, domain: str = "acme.com") -> dict[str, Any]:
    response = await stack.intent.GetSignals(
        intent_pb.GetSignalsRequest(account_id=account_id, company_domain=domain, categories=ENGAGEMENT),
        timeout=5,
    )
    return {s.name: s for s in response.company.signals}


async def test_events_are_accepted_or_rejected_one_by_one(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    response = await post(
        stack,
        key,
        [
            {
                "domain": "acme.com",
                "type": "pricing_page_view",
                "occurred_at": when(),
                "url": "https://x.io/pricing",
            },
            {"email": "jane@acme.com", "type": "demo_request", "occurred_at": when(hours_ago=2)},
            {"domain": "acme.com", "type": "hover"},
            {"domain": "acme.com", "type": "docs_view", "occurred_at": "20/11/2026"},
            {"domain": "acme.com", "type": "docs_view", "occurred_at": when(days_ago=-2)},
            {"type": "docs_view", "occurred_at": when()},
            {"email": "joe@yahoo.com", "type": "docs_view"},
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [
        (2, "unknown_type"),
        (3, "unparseable_time"),
        (4, "future_time"),
        (5, "missing_domain"),
        (6, "personal_email"),
    ]
    assert all(r["message"] for r in body["rejected"])
    assert response.headers["x-request-id"]
    recorded = await signals(stack, account_id)
    assert set(recorded) == {"pricing_page_view", "demo_request"}
    assert list(recorded["pricing_page_view"].evidence) == ["https://x.io/pricing"]


async def test_an_accounts_events_are_its_own(stack: Stack) -> None:
    first_id, first_key = await stack.new_account()
    second_id, second_key = await stack.new_account()
    event = {"domain": "acme.com", "type": "competitor_comparison_view", "occurred_at": when()}
    assert (await post(stack, first_key, [event, event])).json()["accepted"] == 2
    assert (await signals(stack, first_id))["competitor_comparison_view"].count == 2
    assert await signals(stack, second_id) == {}
    assert (await post(stack, second_key, [event])).json()["accepted"] == 1
    assert (await signals(stack, second_id))["competitor_comparison_view"].count == 1
    assert (await signals(stack, first_id))["competitor_comparison_view"].count == 2


async def test_a_retry_with_the_same_idempotency_key_records_nothing_twice(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    events = [{"domain": "acme.com", "type": "docs_view", "occurred_at": when()}] * 3
    first = await post(stack, key, events, **{"Idempotency-Key": "upload-7"})
    again = await post(stack, key, events, **{"Idempotency-Key": "upload-7"})
    assert first.json() == again.json() == {"accepted": 3, "rejected": [], "livemode": True}
    assert (await signals(stack, account_id))["docs_view"].count == 3
    reused = await post(stack, key, events[:1], **{"Idempotency-Key": "upload-7"})
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "REQUEST_ID_REUSED"


async def test_at_most_a_thousand_events_per_call(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    event = {"domain": "acme.com", "type": "pricing_page_view", "occurred_at": when()}
    full = await post(stack, key, [event] * 1000)
    assert full.status_code == 200 and full.json()["accepted"] == 1000
    too_many = await post(stack, key, [event] * 1001)
    assert too_many.status_code == 400
    error = too_many.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request", "TOO_MANY_EVENTS")
    assert "1000" in error["message"]
    assert (await signals(stack, account_id))["pricing_page_view"].count == 1000


async def test_recording_events_needs_an_api_key_and_a_body(stack: Stack) -> None:
    anonymous = await stack.http.post("/v1/signals/events", json={"events": []})
    assert anonymous.status_code == 401
    _, key = await stack.new_account()
    malformed = await stack.http.post(
        "/v1/signals/events", json={"events": "many"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "VALIDATION_ERROR"
    empty = await post(stack, key, [])
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "NO_EVENTS")


async def test_the_endpoint_is_documented(stack: Stack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/signals/events"]["post"]
    assert operation["tags"] == ["signals"]
    assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
