"""GET/PUT /v1/icp end to end: gateway -> billing (auth) -> scoring -> store."""

from __future__ import annotations

from typing import Any

import pytest

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.scoring.v1 import scoring_service_pb2 as scoring_pb
from tests.gateway.stack import Stack

# The body of the issue.
EXAMPLE: dict[str, Any] = {
    "seniorities": {"values": ["vp", "director"], "weight": 30},
    "departments": {"values": ["sales", "revenue_operations"], "weight": 20},
    "title_keywords": {"values": ["revops", "sales operations"], "weight": 10},
    "company_sizes": {"values": ["51-200", "201-500"], "weight": 15},
    "industries": {"values": ["SaaS"], "weight": 15},
    "revenues": {"values": ["$10M-$25M", "$25M-$50M"], "weight": 5},
    "countries": {"values": ["US", "GB"], "weight": 5},
    "technologies": {"values": ["salesforce"], "weight": 0},
    "competitors": ["outreach", "salesloft"],
    "exclusions": {"industries": ["Education"], "title_keywords": ["intern", "student"]},
    "tiers": {"high_priority": 80, "nurture": 50},
}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) == {"type", "code", "message", "request_id"}
    assert body["code"] == code
    return str(body["message"])


async def test_a_new_account_reads_the_default_profile(stack: Stack) -> None:
    _, key = await stack.new_account()
    response = await stack.http.get("/v1/icp", headers=auth(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["is_default"]) == (1, True)
    assert response.headers["etag"] == '"1"'
    assert body["seniorities"] == {"values": ["director", "vp", "c_level", "owner", "partner"], "weight": 35}
    assert body["company_sizes"]["values"] == ["51-200", "201-500", "501-1000", "1001-5000"]
    assert body["revenues"]["values"][0] == "$10M-$25M"
    assert body["exclusions"]["title_keywords"] == ["intern", "student", "trainee"]
    assert body["tiers"] == {"high_priority": 80, "nurture": 50}
    assert body["created_at"]


async def test_put_stores_a_new_version_that_get_and_scoring_then_use(stack: Stack) -> None:
    account_id, key = await stack.new_account()
    response = await stack.http.put("/v1/icp", json=EXAMPLE, headers=auth(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["is_default"]) == (2, False)
    assert response.headers["etag"] == '"2"'
    for name, value in EXAMPLE.items():
        if name != "exclusions":
            assert body[name] == value, name
    assert body["exclusions"]["industries"] == ["Education"]
    assert body["exclusions"]["penalty"] == 100
    assert body["intent_boost_max"] == 15

    current = (await stack.http.get("/v1/icp", headers=auth(key))).json()
    assert current == body
    first = (await stack.http.get("/v1/icp", params={"version": 1}, headers=auth(key))).json()
    assert (first["version"], first["is_default"]) == (1, True)
    listed = (await stack.http.get("/v1/icp/versions", headers=auth(key))).json()
    assert [v["version"] for v in listed["versions"]] == [2, 1] and listed["next_page_token"] is None

    # The scoring service scores this account's leads with the version the REST call stored.
    subject = scoring_pb.ScoringSubject(
        person=common.Person(
            seniority=common.SENIORITY_VP, department=common.DEPARTMENT_SALES, title="VP Sales"
        ),
        company=common.Company(industry="SaaS", size=common.COMPANY_SIZE_201_500, country="GB"),
    )
    scored = await stack.scoring.Score(scoring_pb.ScoreRequest(account_id=account_id, subject=subject))
    assert (scored.score.score, scored.score.profile_version) == (85, 2)
    assert [s.name for s in scored.score.signals] == [
        "target_seniority",
        "target_department",
        "company_size_fit",
        "industry_match",
        "geo_match",
    ]


async def test_enum_names_are_read_in_any_case_and_values_normalised(stack: Stack) -> None:
    _, key = await stack.new_account()
    body = {
        "seniorities": {"values": ["VP", " C_Level "], "weight": 60},
        "revenues": {"values": ["$10m-$25m"], "weight": 40},
        "countries": {"values": ["us"], "weight": 0},
        "title_keywords": {"values": ["  Sales   Ops "], "weight": 0},
    }
    response = await stack.http.put("/v1/icp", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    stored = response.json()
    assert stored["seniorities"]["values"] == ["vp", "c_level"]
    assert stored["revenues"]["values"] == ["$10M-$25M"]
    assert stored["countries"]["values"] == ["US"]
    assert stored["title_keywords"]["values"] == ["sales ops"]


async def test_another_account_never_sees_or_changes_your_profile(stack: Stack) -> None:
    _, mine = await stack.new_account()
    _, theirs = await stack.new_account()
    assert (await stack.http.put("/v1/icp", json=EXAMPLE, headers=auth(mine))).json()["version"] == 2

    their_view = (await stack.http.get("/v1/icp", headers=auth(theirs))).json()
    assert (their_view["version"], their_view["is_default"]) == (1, True)
    assert_error(
        await stack.http.get("/v1/icp", params={"version": 2}, headers=auth(theirs)),
        404,
        "ICP_PROFILE_VERSION_NOT_FOUND",
    )

    changed = {**EXAMPLE, "industries": {"values": ["Fintech"], "weight": 15}}
    assert (await stack.http.put("/v1/icp", json=changed, headers=auth(theirs))).json()["version"] == 2
    mine_now = (await stack.http.get("/v1/icp", headers=auth(mine))).json()
    assert mine_now["industries"] == {"values": ["SaaS"], "weight": 15}
    assert [
        v["version"]
        for v in (await stack.http.get("/v1/icp/versions", headers=auth(mine))).json()["versions"]
    ] == [2, 1]


async def test_if_match_guards_against_lost_updates(stack: Stack) -> None:
    _, key = await stack.new_account()
    first = await stack.http.put("/v1/icp", json=EXAMPLE, headers={**auth(key), "If-Match": '"1"'})
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = {**EXAMPLE, "intent_boost_max": 20}
    message = assert_error(
        await stack.http.put("/v1/icp", json=stale, headers={**auth(key), "If-Match": '"1"'}),
        409,
        "ICP_VERSION_CONFLICT",
    )
    assert "version 2" in message
    fresh = await stack.http.put(
        "/v1/icp", json=stale, headers={**auth(key), "If-Match": first.headers["etag"]}
    )
    assert fresh.status_code == 200 and fresh.json()["version"] == 3
    assert_error(
        await stack.http.put("/v1/icp", json=stale, headers={**auth(key), "If-Match": "latest"}),
        400,
        "INVALID_IF_MATCH",
    )


async def test_a_put_that_changes_nothing_keeps_the_version(stack: Stack) -> None:
    _, key = await stack.new_account()
    assert (await stack.http.put("/v1/icp", json=EXAMPLE, headers=auth(key))).json()["version"] == 2
    assert (await stack.http.put("/v1/icp", json=EXAMPLE, headers=auth(key))).json()["version"] == 2


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"seniorities": {"values": ["wizard"], "weight": 10}},
            422,
            "VALIDATION_ERROR",
            "seniorities.values.0",
        ),
        (
            {"company_sizes": {"values": ["50-200"], "weight": 10}},
            422,
            "VALIDATION_ERROR",
            "company_sizes.values.0",
        ),
        ({"seniorities": {"values": ["vp"], "weight": 150}}, 422, "VALIDATION_ERROR", "seniorities.weight"),
        ({"seniority": {"values": ["vp"], "weight": 10}}, 422, "VALIDATION_ERROR", "seniority"),
        ({"tiers": {"high_priority": "high"}}, 422, "VALIDATION_ERROR", "tiers.high_priority"),
        (
            {"seniorities": {"values": ["vp"], "weight": 10}, "industries": {"values": [], "weight": 15}},
            400,
            "ICP_CRITERION_EMPTY",
            "industries.values",
        ),
        (
            {"seniorities": {"values": ["vp"], "weight": 10}, "tiers": {"high_priority": 50, "nurture": 70}},
            400,
            "ICP_TIERS_INVALID",
            "tiers.nurture",
        ),
        (
            {"seniorities": {"values": ["vp"], "weight": 10}, "countries": {"values": ["USA"], "weight": 5}},
            400,
            "ICP_INVALID_VALUE",
            "countries.values[0]",
        ),
        (
            {"technologies": {"values": ["salesforce"], "weight": 0}},
            400,
            "ICP_NO_WEIGHTED_CRITERIA",
            "weights",
        ),
    ],
)
async def test_invalid_profiles_are_refused_naming_the_field(
    stack: Stack, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    _, key = await stack.new_account()
    message = assert_error(await stack.http.put("/v1/icp", json=body, headers=auth(key)), status, code)
    assert field in message
    assert (await stack.http.get("/v1/icp", headers=auth(key))).json()["version"] == 1


async def test_malformed_json_and_missing_keys_use_the_error_model(stack: Stack) -> None:
    _, key = await stack.new_account()
    malformed = await stack.http.put(
        "/v1/icp", content=b'{"seniorities": {', headers={**auth(key), "Content-Type": "application/json"}
    )
    assert_error(malformed, 422, "VALIDATION_ERROR")
    assert_error(await stack.http.get("/v1/icp"), 401, "API_KEY_MISSING")
    assert_error(await stack.http.put("/v1/icp", json=EXAMPLE), 401, "API_KEY_MISSING")


async def test_openapi_documents_the_icp_routes(stack: Stack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    assert {"get", "put"} <= set(spec["paths"]["/v1/icp"])
    assert "/v1/icp/versions" in spec["paths"]
    assert "c_level" in str(spec["components"]["schemas"])
