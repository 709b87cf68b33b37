"""Request size limits: a body over its path's limit is a 413 in the API's error shape, whether it
declares its length or streams in chunks, and a signals call is bounded in events and field sizes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.app import create_app
from gateway.middleware import BodyLimitMiddleware
from gateway.settings import GatewaySettings
from leadmesh.common.v1 import common_pb2
from leadmesh.intent.v1 import intent_service_pb2 as intent_pb
from libs.embedded_store import free_port
from tests.gateway.stack import Stack
from tests.waiting import eventually

MIB = 1024 * 1024
NOW = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def events_body(count: int, url_length: int) -> bytes:
    url = "https://yoursite.com/" + "p" * (url_length - len("https://yoursite.com/"))
    event = f'{{"domain":"acme.com","type":"docs_view","occurred_at":"{NOW}","url":"{url}"}}'
    return ('{"events":[' + ",".join([event] * count) + "]}").encode()


async def recorded(stack: Stack, account_id: str) -> int:
    response = await stack.intent.GetSignals(
        intent_pb.GetSignalsRequest(
            account_id=account_id,
            company_domain="acme.com",
            categories=[common_pb2.INTENT_CATEGORY_ENGAGEMENT],
        ),
        timeout=5,
    )
    return sum(signal.count for signal in response.company.signals)


def assert_payload_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert set(error) == {"type", "code", "message", "request_id"}
    assert (error["type"], error["code"]) == ("payload_too_large", "PAYLOAD_TOO_LARGE")
    assert str(limit) in error["message"]
    assert error["request_id"] == response.headers.get("x-request-id", error["request_id"])


async def test_a_json_body_over_a_mebibyte_is_413_before_it_is_read(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    body = events_body(1, 100)
    body = body[:-2] + b" " * (MIB + 1 - len(body)) + body[-2:]  # valid JSON, one byte over
    response = await stack.http.post("/v1/signals/events", content=body, headers=auth(key))
    assert response.request.headers["content-length"] == str(MIB + 1)
    assert_payload_too_large(response, MIB)
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
    assert await recorded(stack, account_id) == 0
    # The connection and the key still serve a request within the limit.
    fine = await stack.http.post("/v1/signals/events", content=events_body(1, 100), headers=auth(key))
    assert fine.status_code == 200 and fine.json()["accepted"] == 1


async def test_a_chunked_body_is_counted_as_it_streams_and_refused_past_the_limit(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    body = events_body(1, 100)
    body = body[:-2] + b" " * (2 * MIB) + body[-2:]
    response = await stack.http.post("/v1/signals/events", content=chunks(body), headers=auth(key))
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_payload_too_large(response, MIB)
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
    assert await recorded(stack, account_id) == 0


async def test_a_chunked_body_within_the_limit_goes_through(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    body = events_body(400, 2048)
    assert 0.75 * MIB < len(body) < MIB
    response = await stack.http.post("/v1/signals/events", content=chunks(body), headers=auth(key))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 400, "rejected": [], "livemode": True}
    assert await recorded(stack, account_id) == 400


async def test_more_than_a_thousand_events_are_refused_at_the_gateway(stack: Stack) -> None:
    _, key = await stack.new_account()
    await stack.intent_server.server.stop()  # type: ignore[union-attr]  # the gateway answers without asking the intent service
    for count in (1001, 100_000):
        response = await stack.http.post(
            "/v1/signals/events", json={"events": [{}] * count}, headers=auth(key)
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request", "TOO_MANY_EVENTS")
        assert error["message"] == f"at most 1000 events per call, got {count}; split them"


async def test_an_over_long_event_field_is_422_naming_the_field(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    fine = {"domain": "acme.com", "type": "docs_view", "occurred_at": NOW}
    too_long = [
        {**fine, "domain": "a" * 246 + ".acme.com"},
        {**fine, "email": "j" * 312 + "@acme.com"},
        {**fine, "type": "t" * 65},
        {**fine, "occurred_at": NOW + " " * 60},
        {**fine, "url": "https://x.io/" + "p" * 2036},
    ]
    response = await stack.http.post("/v1/signals/events", json={"events": too_long}, headers=auth(key))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    for where, limit in [
        ("events.0.domain", 253),
        ("events.1.email", 320),
        ("events.2.type", 64),
        ("events.3.occurred_at", 64),
        ("events.4.url", 2048),
    ]:
        assert f"{where}: String should have at most {limit} characters" in error["message"]
    assert await recorded(stack, account_id) == 0
    at_the_limit = {**fine, "url": "https://x.io/" + "p" * 2035}
    accepted = await stack.http.post("/v1/signals/events", json={"events": [at_the_limit]}, headers=auth(key))
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1


# The upload limit, per path: an application that reads every body, behind the middleware.


async def read_all(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body and answers its length; answers 400 to any error while reading, as
    an application that swallows errors would."""
    size = 0
    try:
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        status, text = 200, str(size)
    except Exception:
        status, text = 400, "broken body"
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": text.encode()})


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http
    finally:
        server.should_exit = True
        await task


def upload_cases() -> Iterator[tuple[str, int, int | None]]:
    """(path, body size, the limit it is refused under or None) with limits 1,000 and 5,000."""
    for path in ("/v1/enrich/csv", "/v1/enrich/csv/", "/v1/enrich/csv/jobs"):
        yield path, 4_000, None
        yield path, 5_000, None
        yield path, 5_001, 5_000
    for path in ("/v1/enrich/csv_row", "/v1/enrich/csvx", "/v1/enrich/lead", "/v1/signals/events"):
        yield path, 1_000, None
        yield path, 1_001, 1_000
        yield path, 4_000, 1_000


@pytest.mark.parametrize("chunked", [False, True])
async def test_only_the_csv_upload_path_takes_the_upload_limit(chunked: bool) -> None:
    app = BodyLimitMiddleware(read_all, limit=1_000, upload_limit=5_000)
    async with serving(app) as http:
        for path, size, limit in upload_cases():
            content: Any = chunks(b"x" * size, 700) if chunked else b"x" * size
            response = await http.post(path, content=content)
            assert ("content-length" in response.request.headers) is not chunked
            if limit is None:
                assert (response.status_code, response.text) == (200, str(size)), (path, size)
            else:
                assert_payload_too_large(response, limit)


async def test_the_gateway_reads_both_limits_from_its_settings() -> None:
    settings = GatewaySettings(
        billing_addr=f"127.0.0.1:{free_port()}", gateway_max_body_bytes=1_000, gateway_max_upload_bytes=5_000
    )
    assert GatewaySettings().gateway_max_body_bytes == MIB
    assert GatewaySettings().gateway_max_upload_bytes == 200 * MIB
    async with serving(create_app(settings)) as http:
        assert_payload_too_large(await http.post("/v1/signals/events", content=b"x" * 1_001), 1_000)
        assert_payload_too_large(await http.post("/v1/enrich/csv_row", content=b"x" * 1_001), 1_000)
        assert_payload_too_large(await http.post("/v1/enrich/csv", content=b"x" * 5_001), 5_000)
        under_upload_limit = await http.post("/v1/enrich/csv", content=b"x" * 4_000)
        assert under_upload_limit.status_code != 413
