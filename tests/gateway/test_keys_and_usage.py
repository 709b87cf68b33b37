"""GET/POST /v1/keys, DELETE /v1/keys/{prefix} and GET /v1/usage over real sockets, in front of
the real billing service: scoped to the caller's account, with the API's errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from tests.gateway.stack import Stack
from tests.gateway.test_auth_and_credits import assert_error


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_keys_are_listed_created_and_revoked_for_the_callers_account(stack: Stack) -> None:
    _, key = await stack.new_account()
    listed = await stack.http.get("/v1/keys", headers=bearer(key))
    assert listed.status_code == 200, listed.text
    [own] = listed.json()["keys"]
    assert own["prefix"] == key[:16] and own["current"] is True
    assert own["mode"] == "live" and own["status"] == "active" and own["revoked_at"] is None
    assert own["last_used_at"] is not None, "the request itself used the key"

    created = await stack.http.post(
        "/v1/keys", json={"name": "CRM sync", "mode": "test"}, headers=bearer(key)
    )
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["secret"].startswith("lm_test_") and new["secret"][:16] == new["prefix"]
    assert new["name"] == "CRM sync" and new["current"] is False and new["last_used_at"] is None
    assert (await stack.http.get("/v1/credits", headers=bearer(new["secret"]))).status_code == 200
    after = (await stack.http.get("/v1/keys", headers=bearer(key))).json()["keys"]
    assert [k["prefix"] for k in after] == [new["prefix"], own["prefix"]], "newest first"
    assert "secret" not in after[0], "the secret is shown once"

    revoked = await stack.http.delete(f"/v1/keys/{new['prefix']}", headers=bearer(key))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked" and revoked.json()["revoked_at"]
    assert_error(await stack.http.get("/v1/credits", headers=bearer(new["secret"])), 401, "API_KEY_REVOKED")
    assert (await stack.http.get("/v1/credits", headers=bearer(key))).status_code == 200


async def test_a_key_cannot_see_or_revoke_another_accounts_keys(stack: Stack) -> None:
    _, mine = await stack.new_account()
    _, theirs = await stack.new_account()
    body = (await stack.http.get("/v1/keys", headers=bearer(mine))).json()
    assert [k["prefix"] for k in body["keys"]] == [mine[:16]]
    assert_error(
        await stack.http.delete(f"/v1/keys/{theirs[:16]}", headers=bearer(mine)), 404, "API_KEY_NOT_FOUND"
    )
    assert (await stack.http.get("/v1/keys", headers=bearer(theirs))).status_code == 200, "still works"
    assert_error(
        await stack.http.delete("/v1/keys/lm_live_nosuchky", headers=bearer(mine)), 404, "API_KEY_NOT_FOUND"
    )


async def test_key_endpoints_refuse_bad_requests(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    for method, path in (("GET", "/v1/keys"), ("POST", "/v1/keys"), ("DELETE", "/v1/keys/lm_live_x")):
        assert_error(await stack.http.request(method, path, json={}), 401, "API_KEY_MISSING")
    assert_error(
        await stack.http.post("/v1/keys", json={"mode": "root"}, headers=bearer(key)), 422, "VALIDATION_ERROR"
    )
    assert_error(
        await stack.http.post("/v1/keys", json={"name": "x" * 201}, headers=bearer(key)),
        422,
        "VALIDATION_ERROR",
    )
    test_key = await stack.billing.CreateApiKey(
        billing_pb.CreateApiKeyRequest(account_id=account_id, mode=billing_pb.API_KEY_MODE_TEST)
    )
    refused = await stack.http.post(
        "/v1/keys", json={"mode": "live"}, headers=bearer(test_key.api_key_secret)
    )
    assert_error(refused, 403, "TEST_KEY_CANNOT_CREATE_LIVE_KEY")
    keys = (await stack.http.get("/v1/keys", headers=bearer(key))).json()["keys"]
    assert len(keys) == 2, "nothing was created by the refused requests"


async def _job_rows(stack: Stack, account_id: str, job: str, rows: int) -> None:
    reserved = await stack.billing.Reserve(
        billing_pb.ReserveRequest(account_id=account_id, idempotency_key=f"job:{job}", amount=rows)
    )
    await stack.billing.ChargeBatch(
        billing_pb.ChargeBatchRequest(
            account_id=account_id,
            reservation_id=reserved.reservation.reservation_id,
            items=[
                billing_pb.ChargeBatchItem(idempotency_key=f"job:{job}:row:{n}", amount=1)
                for n in range(rows)
            ],
        )
    )


async def test_usage_counts_single_leads_and_csv_rows_per_day(stack: Stack) -> None:
    account_id, key = await stack.new_account(credits=50)
    for n, amount in enumerate((1, 11)):
        await stack.billing.Charge(
            billing_pb.ChargeRequest(account_id=account_id, idempotency_key=f"lead{n}", amount=amount)
        )
    await stack.billing.Charge(  # a retry of the same lead is not a second lead
        billing_pb.ChargeRequest(account_id=account_id, idempotency_key="lead0", amount=1)
    )
    await _job_rows(stack, account_id, "j1", 3)
    other_id, other = await stack.new_account()
    await stack.billing.Charge(billing_pb.ChargeRequest(account_id=other_id, idempotency_key="x", amount=1))

    response = await stack.http.get("/v1/usage", params={"days": 30}, headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days"] == 30 and len(body["daily"]) == 30
    today = datetime.now(UTC).date()
    assert body["daily"][-1]["date"] == today.isoformat()
    assert body["daily"][0]["date"] == (today - timedelta(days=29)).isoformat()
    assert body["daily"][-1]["single_leads"] == {"leads": 2, "credits": 12}
    assert body["daily"][-1]["csv_jobs"] == {"leads": 3, "credits": 3}
    assert all(day["single_leads"]["leads"] == day["csv_jobs"]["leads"] == 0 for day in body["daily"][:-1])
    assert body["totals"] == {
        "single_leads": {"leads": 2, "credits": 12},
        "csv_jobs": {"leads": 3, "credits": 3},
    }

    theirs = (await stack.http.get("/v1/usage", params={"days": 7}, headers=bearer(other))).json()
    assert len(theirs["daily"]) == 7
    assert theirs["totals"] == {
        "single_leads": {"leads": 1, "credits": 1},
        "csv_jobs": {"leads": 0, "credits": 0},
    }


async def test_usage_refuses_bad_requests(stack: Stack) -> None:
    _, key = await stack.new_account()
    assert_error(await stack.http.get("/v1/usage"), 401, "API_KEY_MISSING")
    assert_error(await stack.http.get("/v1/usage", headers=bearer("lm_live_nope")), 401, "API_KEY_INVALID")
    for days in ("0", "91", "many"):
        response = await stack.http.get("/v1/usage", params={"days": days}, headers=bearer(key))
        assert_error(response, 422, "VALIDATION_ERROR")
