"""Score and ScoreBatch over gRPC."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as pb_grpc
from libs.errors import error_from_rpc

NOW = 1_800_000_000
DAY = 86_400

EXAMPLE = pb.IcpProfile(
    seniorities=pb.SeniorityCriterion(values=[common.SENIORITY_VP, common.SENIORITY_DIRECTOR], weight=30),
    departments=pb.DepartmentCriterion(
        values=[common.DEPARTMENT_SALES, common.DEPARTMENT_REVENUE_OPERATIONS], weight=20
    ),
    title_keywords=pb.KeywordCriterion(values=["revops", "sales operations"], weight=10),
    company_sizes=pb.CompanySizeCriterion(
        values=[common.COMPANY_SIZE_51_200, common.COMPANY_SIZE_201_500], weight=15
    ),
    industries=pb.KeywordCriterion(values=["SaaS"], weight=15),
    revenues=pb.RevenueCriterion(
        values=[common.REVENUE_RANGE_10M_25M, common.REVENUE_RANGE_25M_50M], weight=5
    ),
    countries=pb.KeywordCriterion(values=["US", "GB"], weight=5),
    technologies=pb.KeywordCriterion(values=["salesforce"], weight=0),
    competitors=["outreach", "salesloft"],
    exclusions=pb.IcpExclusions(industries=["Education"], title_keywords=["intern", "student"]),
    tiers=pb.IcpTiers(high_priority=80, nurture=50),
    intent_boost_max=15,
)


def stamp(seconds: int) -> Timestamp:
    value = Timestamp()
    value.FromSeconds(seconds)
    return value


def mike(**person: object) -> pb.ScoringSubject:
    """The lead of the reference response: a director of revenue operations at a SaaS company."""
    fields: dict[str, object] = {
        "title": "Director of Revenue Operations",
        "seniority": common.SENIORITY_DIRECTOR,
        "department": common.DEPARTMENT_REVENUE_OPERATIONS,
        "country": "US",
        **person,
    }
    return pb.ScoringSubject(
        person=common.Person(**fields),
        company=common.Company(
            name="TechFlow",
            domain="techflow.io",
            size=common.COMPANY_SIZE_51_200,
            industry="SaaS",
            revenue=common.REVENUE_RANGE_10M_25M,
        ),
    )


@pytest.fixture
async def account(scoring: pb_grpc.ScoringServiceStub) -> str:
    await scoring.UpdateIcpProfile(pb.UpdateIcpProfileRequest(account_id="acct_s", profile=EXAMPLE))
    return "acct_s"


async def test_score_explains_itself(scoring: pb_grpc.ScoringServiceStub, account: str) -> None:
    reply = await scoring.Score(pb.ScoreRequest(account_id=account, subject=mike()))
    score = reply.score
    assert (score.score, score.tier, score.profile_version) == (90, common.ICP_TIER_HIGH_PRIORITY, 2)
    assert [(s.name, s.points, s.detail) for s in score.signals] == [
        ("target_seniority", 30, "director"),
        ("target_department", 20, "revenue_operations"),
        ("company_size_fit", 15, "51-200"),
        ("industry_match", 15, "SaaS"),
        ("revenue_fit", 5, "$10M-$25M"),
        ("geo_match", 5, "US"),
    ]
    assert score.confidence == 1.0


async def test_intent_decay_is_measured_at_score_time(
    scoring: pb_grpc.ScoringServiceStub, account: str
) -> None:
    subject = mike(seniority=common.SENIORITY_MANAGER)  # 60 points of fit
    subject.intent_signals.add(
        name="hiring_sales_ops",
        category=common.INTENT_CATEGORY_HIRING,
        strength=100,
        base_strength=100,
        observed_time=stamp(NOW - 30 * DAY),
    )

    async def at(seconds: int) -> common.IcpScore:
        reply = await scoring.Score(
            pb.ScoreRequest(account_id=account, subject=subject, score_time=stamp(seconds))
        )
        return reply.score

    fresh, again, later = await at(NOW - 30 * DAY), await at(NOW - 30 * DAY), await at(NOW)
    assert fresh == again
    assert (fresh.score, fresh.signals[-1].name, fresh.signals[-1].points) == (75, "intent_boost", 15)
    assert (later.score, later.signals[-1].points) == (68, 8)


async def test_unknown_values_in_a_subject_are_missing_data(
    scoring: pb_grpc.ScoringServiceStub, account: str
) -> None:
    subject = mike(seniority=99, department=common.DEPARTMENT_UNSPECIFIED)
    score = (await scoring.Score(pb.ScoreRequest(account_id=account, subject=subject))).score
    assert score.score == 40 and score.confidence == 0.5  # no seniority or department points


async def test_score_batch_scores_ten_thousand_leads_in_one_call_in_order(
    scoring: pb_grpc.ScoringServiceStub, account: str
) -> None:
    variants = [
        mike(),
        mike(seniority=common.SENIORITY_ENTRY),
        mike(title="RevOps Intern"),
        pb.ScoringSubject(),
        mike(department=common.DEPARTMENT_HR, country="DE"),
    ]
    expected = [(await scoring.Score(pb.ScoreRequest(account_id=account, subject=s))).score for s in variants]
    assert [s.score for s in expected] == [90, 60, 0, 0, 65]

    subjects = [variants[n % len(variants)] for n in range(10_000)]
    reply = await scoring.ScoreBatch(pb.ScoreBatchRequest(account_id=account, subjects=subjects))
    assert reply.profile_version == 2
    assert len(reply.scores) == 10_000
    assert all(reply.scores[n] == expected[n % len(variants)] for n in range(10_000))


async def test_score_batch_can_use_an_older_version(
    scoring: pb_grpc.ScoringServiceStub, account: str
) -> None:
    reply = await scoring.ScoreBatch(
        pb.ScoreBatchRequest(account_id=account, subjects=[mike()], profile_version=1)
    )
    assert reply.profile_version == 1 and reply.scores[0].profile_version == 1
    # The default profile: director (35) + revenue_operations (20) + 51-200 (30) + $10M-$25M (15).
    assert reply.scores[0].score == 100


async def test_an_empty_batch_is_fine(scoring: pb_grpc.ScoringServiceStub, account: str) -> None:
    reply = await scoring.ScoreBatch(pb.ScoreBatchRequest(account_id=account))
    assert (len(reply.scores), reply.profile_version) == (0, 2)


async def test_a_batch_over_the_limit_is_refused(scoring: pb_grpc.ScoringServiceStub, account: str) -> None:
    too_many = [pb.ScoringSubject()] * 20_001  # the test server allows 20,000
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await scoring.ScoreBatch(pb.ScoreBatchRequest(account_id=account, subjects=too_many))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(raised.value).reason == "BATCH_TOO_LARGE"


async def test_scoring_against_a_version_that_does_not_exist(
    scoring: pb_grpc.ScoringServiceStub, account: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await scoring.Score(pb.ScoreRequest(account_id=account, subject=mike(), profile_version=9))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_current_profile_is_read_once_and_an_update_is_used_at_once(
    scoring: pb_grpc.ScoringServiceStub, account: str, spans: InMemorySpanExporter
) -> None:
    """Scoring reads the account's current profile for every lead; it keeps it a moment, so a
    second batch reads nothing from the store, and an update through this server counts at once."""
    await scoring.ScoreBatch(pb.ScoreBatchRequest(account_id=account, subjects=[mike()]))
    spans.clear()
    again = await scoring.ScoreBatch(pb.ScoreBatchRequest(account_id=account, subjects=[mike()]))
    assert again.profile_version == 2
    assert not [span for span in spans.get_finished_spans() if span.name.startswith("find ")]

    interns_only = pb.IcpProfile()
    interns_only.CopyFrom(EXAMPLE)
    interns_only.exclusions.title_keywords.append("revenue")
    await scoring.UpdateIcpProfile(pb.UpdateIcpProfileRequest(account_id=account, profile=interns_only))
    after = await scoring.ScoreBatch(pb.ScoreBatchRequest(account_id=account, subjects=[mike()]))
    assert after.profile_version == 3 and after.scores[0].score == 0
