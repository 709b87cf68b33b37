"""Versioned profiles over gRPC: the default, new versions, old versions, concurrency, isolation."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as pb_grpc
from libs.errors import error_from_rpc


def profile(*seniorities: int, weight: int = 100) -> pb.IcpProfile:
    return pb.IcpProfile(
        seniorities=pb.SeniorityCriterion(values=list(seniorities), weight=weight),
        tiers=pb.IcpTiers(high_priority=80, nurture=50),
        intent_boost_max=10,
    )


async def update(
    scoring: pb_grpc.ScoringServiceStub, account: str, new: pb.IcpProfile, expected: int = 0
) -> pb.IcpProfile:
    reply = await scoring.UpdateIcpProfile(
        pb.UpdateIcpProfileRequest(account_id=account, profile=new, expected_version=expected)
    )
    return reply.profile


async def get(scoring: pb_grpc.ScoringServiceStub, account: str, version: int = 0) -> pb.IcpProfile:
    return (await scoring.GetIcpProfile(pb.GetIcpProfileRequest(account_id=account, version=version))).profile


async def versions(scoring: pb_grpc.ScoringServiceStub, account: str) -> list[int]:
    reply = await scoring.ListIcpProfileVersions(pb.ListIcpProfileVersionsRequest(account_id=account))
    return [p.version for p in reply.profiles]


async def rpc_error(call: object) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    error = error_from_rpc(raised.value)
    return raised.value.code(), error.reason, error.metadata


async def test_a_new_account_gets_the_default_as_version_1_once(scoring: pb_grpc.ScoringServiceStub) -> None:
    firsts = await asyncio.gather(*(get(scoring, "acct_new") for _ in range(8)))
    assert {(p.version, p.is_default, p.account_id) for p in firsts} == {(1, True, "acct_new")}
    assert len({p.create_time.ToMilliseconds() for p in firsts}) == 1
    assert await versions(scoring, "acct_new") == [1]
    default = firsts[0]
    assert list(default.seniorities.values) == [
        common.SENIORITY_DIRECTOR,
        common.SENIORITY_VP,
        common.SENIORITY_C_LEVEL,
        common.SENIORITY_OWNER,
        common.SENIORITY_PARTNER,
    ]
    assert list(default.exclusions.title_keywords) == ["intern", "student", "trainee"]
    assert (default.tiers.high_priority, default.tiers.nurture) == (80, 50)


async def test_an_update_creates_a_new_version_and_old_versions_stay_readable(
    scoring: pb_grpc.ScoringServiceStub,
) -> None:
    v2 = await update(scoring, "acct_a", profile(common.SENIORITY_VP))
    assert (v2.version, v2.is_default, v2.account_id) == (2, False, "acct_a")
    v3 = await update(scoring, "acct_a", profile(common.SENIORITY_DIRECTOR))
    assert v3.version == 3
    assert (await get(scoring, "acct_a")).version == 3
    assert list((await get(scoring, "acct_a", 2)).seniorities.values) == [common.SENIORITY_VP]
    assert (await get(scoring, "acct_a", 1)).is_default
    assert await versions(scoring, "acct_a") == [3, 2, 1]

    # Scoring says which version scored, and a stored record can be rescored by its version.
    vp = pb.ScoringSubject(person=common.Person(seniority=common.SENIORITY_VP))
    now = await scoring.Score(pb.ScoreRequest(account_id="acct_a", subject=vp))
    then = await scoring.Score(pb.ScoreRequest(account_id="acct_a", subject=vp, profile_version=2))
    assert (now.score.profile_version, now.score.score) == (3, 0)
    assert (then.score.profile_version, then.score.score) == (2, 100)


async def test_an_update_that_changes_nothing_keeps_the_version(scoring: pb_grpc.ScoringServiceStub) -> None:
    first = await update(scoring, "acct_same", profile(common.SENIORITY_VP, common.SENIORITY_VP))
    again = await update(scoring, "acct_same", profile(common.SENIORITY_VP))
    assert again.version == first.version == 2
    assert again.create_time == first.create_time
    assert await versions(scoring, "acct_same") == [2, 1]


async def test_expected_version_is_optimistic_concurrency(scoring: pb_grpc.ScoringServiceStub) -> None:
    await update(scoring, "acct_occ", profile(common.SENIORITY_VP), expected=1)
    code, reason, metadata = await rpc_error(
        update(scoring, "acct_occ", profile(common.SENIORITY_OWNER), expected=1)
    )
    assert (code, reason, metadata) == (
        grpc.StatusCode.ABORTED,
        "ICP_VERSION_CONFLICT",
        {"current_version": "2"},
    )
    assert (await update(scoring, "acct_occ", profile(common.SENIORITY_OWNER), expected=2)).version == 3

    # Of concurrent writers that expect the same version, exactly one wins. (None writes what
    # version 3 already holds, owner: an unchanged profile would answer version 3 itself.)
    outcomes = await asyncio.gather(
        *(update(scoring, "acct_occ", profile(value), expected=3) for value in (1, 2, 4, 6, 8)),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, pb.IcpProfile)]
    lost = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert [p.version for p in won] == [4]
    assert len(lost) == 4 and all(e.code() == grpc.StatusCode.ABORTED for e in lost)
    assert await versions(scoring, "acct_occ") == [4, 3, 2, 1]


async def test_concurrent_unconditional_updates_each_get_their_own_version(
    scoring: pb_grpc.ScoringServiceStub,
) -> None:
    written = await asyncio.gather(*(update(scoring, "acct_race", profile(value)) for value in (1, 2, 3, 4)))
    assert sorted(p.version for p in written) == [2, 3, 4, 5]
    for stored in written:
        assert (await get(scoring, "acct_race", stored.version)).seniorities == stored.seniorities


async def test_versions_paginate_newest_first(scoring: pb_grpc.ScoringServiceStub) -> None:
    for value in (1, 2, 3, 4, 5, 6):
        await update(scoring, "acct_pages", profile(value))
    seen: list[int] = []
    token = ""
    while True:
        page = await scoring.ListIcpProfileVersions(
            pb.ListIcpProfileVersionsRequest(account_id="acct_pages", page_size=3, page_token=token)
        )
        seen += [p.version for p in page.profiles]
        token = page.next_page_token
        if not token:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    code, reason, _ = await rpc_error(
        scoring.ListIcpProfileVersions(
            pb.ListIcpProfileVersionsRequest(account_id="acct_pages", page_token="junk")
        )
    )
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN")


async def test_accounts_never_see_each_others_profiles(scoring: pb_grpc.ScoringServiceStub) -> None:
    await update(scoring, "acct_one", profile(common.SENIORITY_OWNER))
    await update(scoring, "acct_one", profile(common.SENIORITY_PARTNER))
    other = await get(scoring, "acct_two")
    assert (other.version, other.is_default) == (1, True)
    assert await versions(scoring, "acct_two") == [1]
    code, reason, _ = await rpc_error(get(scoring, "acct_two", 3))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "ICP_PROFILE_VERSION_NOT_FOUND")


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (pb.GetIcpProfileRequest(account_id=""), "ACCOUNT_ID_REQUIRED"),
        (pb.GetIcpProfileRequest(account_id="acct_x", version=-1), "INVALID_VERSION"),
        (pb.GetIcpProfileRequest(account_id="x" * 200), "INVALID_ACCOUNT_ID"),
    ],
)
async def test_bad_requests_are_invalid_argument(
    scoring: pb_grpc.ScoringServiceStub, request_: pb.GetIcpProfileRequest, reason: str
) -> None:
    code, got, _ = await rpc_error(scoring.GetIcpProfile(request_))
    assert (code, got) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
