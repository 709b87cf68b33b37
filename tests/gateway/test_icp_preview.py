"""POST /v1/icp/preview: a sample lead scored by a draft profile, through the real scoring
service; the draft is validated like a save and never stored."""

from __future__ import annotations

import copy

from gateway.examples import ICP_PROFILE_IN
from tests.gateway.stack import Stack
from tests.gateway.test_auth_and_credits import assert_error

LEAD = {"title": "VP of Sales", "seniority": "vp", "department": "sales", "company_size": "51-200"}


async def test_the_preview_scores_the_draft_and_stores_nothing(stack: Stack) -> None:
    _, key = await stack.new_account()
    headers = {"Authorization": f"Bearer {key}"}
    before = (await stack.http.get("/v1/icp", headers=headers)).json()
    draft = copy.deepcopy(ICP_PROFILE_IN)
    fit = await stack.http.post("/v1/icp/preview", json={"profile": draft, "lead": LEAD}, headers=headers)
    assert fit.status_code == 200, fit.text
    body = fit.json()
    points = {p["name"]: p["points"] for p in body["icp_breakdown"]}
    assert points.get("target_seniority") == 35 and body["icp_score"] > 0
    draft["seniorities"]["values"] = ["entry"]
    worse = (
        await stack.http.post("/v1/icp/preview", json={"profile": draft, "lead": LEAD}, headers=headers)
    ).json()
    assert "target_seniority" not in {p["name"] for p in worse["icp_breakdown"]}
    assert worse["icp_score"] < body["icp_score"]
    after = (await stack.http.get("/v1/icp", headers=headers)).json()
    assert after["version"] == before["version"], "a preview stores no version"


async def test_the_preview_refuses_bad_requests(stack: Stack) -> None:
    _, key = await stack.new_account()
    headers = {"Authorization": f"Bearer {key}"}
    body = {"profile": ICP_PROFILE_IN, "lead": LEAD}
    assert_error(await stack.http.post("/v1/icp/preview", json=body), 401, "API_KEY_MISSING")
    bad_weight = {**body, "profile": {**ICP_PROFILE_IN, "seniorities": {"values": ["vp"], "weight": 101}}}
    assert_error(
        await stack.http.post("/v1/icp/preview", json=bad_weight, headers=headers), 422, "VALIDATION_ERROR"
    )
    bad_lead = {**body, "lead": {"seniority": "emperor"}}
    assert_error(
        await stack.http.post("/v1/icp/preview", json=bad_lead, headers=headers), 422, "VALIDATION_ERROR"
    )
