"""The gateway over real sockets: authentication through billing, /v1/credits, errors, health."""

from __future__ import annotations

import pytest

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from tests.gateway.stack import Stack


def assert_error(response: object, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()["error"]  # type: ignore[attr-defined]
    assert set(body) == {"type", "code", "message", "request_id"}
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]  # type: ignore[attr-defined]
    return body  # type: ignore[no-any-return]


async def test_a_new_account_sees_its_thirty_free_credits(stack: Stack) -> None:
    _, key = await stack.new_account()
    response = await stack.http.get("/v1/credits", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["balance"] == 30
    assert body["free_tier"]["monthly_credits"] == 30
    assert body["free_tier"]["granted_this_period"] is True
    assert [(e["type"], e["amount"]) for e in body["ledger"]] == [("free_tier_grant", 30)]
    assert response.headers["x-credits-remaining"] == "30"
    assert response.headers["x-request-id"]


async def test_credits_reflect_charges_and_paginate(stack: Stack) -> None:
    account_id, key = await stack.new_account(credits=5)
    for n in range(3):
        await stack.billing.Charge(
            billing_pb.ChargeRequest(account_id=account_id, idempotency_key=f"r{n}", amount=1)
        )
    headers = {"Authorization": f"Bearer {key}"}
    first = (await stack.http.get("/v1/credits", params={"page_size": 2}, headers=headers)).json()
    assert first["balance"] == 32
    assert [e["idempotency_key"] for e in first["ledger"]] == ["r2", "r1"]
    second = (
        await stack.http.get(
            "/v1/credits", params={"page_size": 2, "page_token": first["next_page_token"]}, headers=headers
        )
    ).json()
    assert [e["type"] for e in second["ledger"]] == ["charge", "credit"]


async def test_each_key_sees_only_its_own_account(stack: Stack) -> None:
    first_id, first_key = await stack.new_account(credits=100)
    _, second_key = await stack.new_account()
    await stack.billing.Charge(
        billing_pb.ChargeRequest(account_id=first_id, idempotency_key="mine", amount=7)
    )
    first = (await stack.http.get("/v1/credits", headers={"Authorization": f"Bearer {first_key}"})).json()
    second = (await stack.http.get("/v1/credits", headers={"Authorization": f"Bearer {second_key}"})).json()
    assert first["balance"] == 123
    assert second["balance"] == 30
    assert "mine" not in [e["idempotency_key"] for e in second["ledger"]]
    # A page token of one account's ledger gives nothing of it to another account.
    paged = (
        await stack.http.get(
            "/v1/credits", params={"page_size": 1}, headers={"Authorization": f"Bearer {first_key}"}
        )
    ).json()
    other = await stack.http.get(
        "/v1/credits",
        params={"page_token": paged["next_page_token"]},
        headers={"Authorization": f"Bearer {second_key}"},
    )
    assert other.status_code == 200
    first_ids = {e["id"] for e in first["ledger"]}
    assert first_ids and not first_ids & {e["id"] for e in other.json()["ledger"]}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "API_KEY_MISSING"),
        ({"Authorization": "Bearer lm_live_" + "x" * 32}, "API_KEY_INVALID"),
        ({"Authorization": "Bearer nonsense"}, "API_KEY_INVALID"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "API_KEY_INVALID"),
        ({"Authorization": "Bearer"}, "API_KEY_INVALID"),
    ],
)
async def test_a_missing_or_wrong_key_is_a_401_json_error(
    stack: Stack, headers: dict[str, str], code: str
) -> None:
    response = await stack.http.get("/v1/credits", headers=headers)
    body = assert_error(response, 401, code)
    assert body["type"] == "authentication_error"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_revoked_key_is_refused(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    await stack.billing.RevokeApiKey(billing_pb.RevokeApiKeyRequest(prefix=key[:16], account_id=account_id))
    response = await stack.http.get("/v1/credits", headers={"Authorization": f"Bearer {key}"})
    assert_error(response, 401, "API_KEY_REVOKED")


async def test_bad_query_parameters_are_a_422_naming_the_field(stack: Stack) -> None:
    _, key = await stack.new_account()
    headers = {"Authorization": f"Bearer {key}"}
    response = await stack.http.get("/v1/credits", params={"page_size": 0}, headers=headers)
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert "page_size" in body["message"]
    response = await stack.http.get("/v1/credits", params={"page_token": "garbage"}, headers=headers)
    assert_error(response, 400, "INVALID_PAGE_TOKEN")


async def test_a_callers_request_id_is_echoed_and_an_unsafe_one_replaced(stack: Stack) -> None:
    response = await stack.http.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    response = await stack.http.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert response.headers["x-request-id"].startswith("req_")


async def test_unknown_routes_use_the_error_model(stack: Stack) -> None:
    assert_error(await stack.http.get("/v1/nothing-here"), 404, "NOT_FOUND")


async def test_healthz_reports_each_dependency(stack: Stack) -> None:
    response = await stack.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "dependencies": {"billing": "SERVING", "scoring": "SERVING"},
        "demo": False,
    }


async def test_billing_down_is_a_503_not_a_401_or_500(stack: Stack) -> None:
    _, key = await stack.new_account()
    await stack.billing_server.stop()
    response = await stack.http.get("/v1/credits", headers={"Authorization": f"Bearer {key}"})
    assert_error(response, 503, "UNAVAILABLE")
    health = await stack.http.get("/healthz")
    assert health.status_code == 503
    assert health.json()["dependencies"]["billing"] in {"UNREACHABLE", "NOT_SERVING"}


async def test_openapi_documents_the_api(stack: Stack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    assert "/v1/credits" in spec["paths"]
    assert (await stack.http.get("/docs")).status_code == 200
