"""Profile validation: every rejected profile names its field; accepted ones come back normalised."""

from __future__ import annotations

from dataclasses import replace

import grpc
import pytest

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument, error_from_rpc
from services.scoring.domain import (
    CompanySize,
    Criterion,
    Department,
    Exclusions,
    IcpProfile,
    Seniority,
    Tiers,
    validate_profile,
)

VALID = IcpProfile(
    seniorities=Criterion((Seniority.VP,), 60),
    industries=Criterion(("SaaS",), 40),
)


@pytest.mark.parametrize(
    ("profile", "reason", "field"),
    [
        (
            replace(VALID, seniorities=Criterion((Seniority.VP,), 101)),
            "ICP_WEIGHT_OUT_OF_RANGE",
            "seniorities.weight",
        ),
        (replace(VALID, industries=Criterion(("SaaS",), -1)), "ICP_WEIGHT_OUT_OF_RANGE", "industries.weight"),
        (replace(VALID, departments=Criterion((), 20)), "ICP_CRITERION_EMPTY", "departments.values"),
        (
            replace(VALID, title_keywords=Criterion(("  ",), 0)),
            "ICP_INVALID_VALUE",
            "title_keywords.values[0]",
        ),
        (
            replace(VALID, title_keywords=Criterion(("ok", "x" * 201), 5)),
            "ICP_INVALID_VALUE",
            "title_keywords.values[1]",
        ),
        (replace(VALID, countries=Criterion(("US", "USA"), 5)), "ICP_INVALID_VALUE", "countries.values[1]"),
        (
            replace(VALID, technologies=Criterion(tuple(f"t{n}" for n in range(501)), 5)),
            "ICP_INVALID_VALUE",
            "technologies.values",
        ),
        (
            IcpProfile(seniorities=Criterion((Seniority.VP,), 0), title_keywords=Criterion(("revops",), 0)),
            "ICP_NO_WEIGHTED_CRITERIA",
            "weights",
        ),
        (replace(VALID, tiers=Tiers(high_priority=50, nurture=80)), "ICP_TIERS_INVALID", "tiers.nurture"),
        (replace(VALID, tiers=Tiers(high_priority=60, nurture=60)), "ICP_TIERS_INVALID", "tiers.nurture"),
        (replace(VALID, tiers=Tiers(high_priority=0, nurture=0)), "ICP_TIERS_INVALID", "tiers.high_priority"),
        (
            replace(VALID, tiers=Tiers(high_priority=101, nurture=50)),
            "ICP_TIERS_INVALID",
            "tiers.high_priority",
        ),
        (replace(VALID, intent_boost_max=31), "ICP_OUT_OF_RANGE", "intent_boost_max"),
        (replace(VALID, exclusions=Exclusions(penalty=101)), "ICP_OUT_OF_RANGE", "exclusions.penalty"),
        (
            replace(VALID, exclusions=Exclusions(countries=("Germany",))),
            "ICP_INVALID_VALUE",
            "exclusions.countries[0]",
        ),
        (
            replace(VALID, exclusions=Exclusions(company_domains=("not a domain",))),
            "ICP_INVALID_VALUE",
            "exclusions.company_domains[0]",
        ),
        (replace(VALID, competitors=("",)), "ICP_INVALID_VALUE", "competitors[0]"),
    ],
)
def test_invalid_profiles_name_the_field(profile: IcpProfile, reason: str, field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        validate_profile(profile)
    assert raised.value.reason == reason
    assert raised.value.metadata == {"field": field}
    assert raised.value.message.startswith(f"{field}: ")


def test_a_valid_profile_comes_back_normalised() -> None:
    profile = validate_profile(
        replace(
            VALID,
            seniorities=Criterion((Seniority.VP, Seniority.DIRECTOR, Seniority.VP), 60),
            title_keywords=Criterion(("  Sales   Operations ", "sales operations", "RevOps"), 10),
            countries=Criterion(("us", "GB", "US"), 5),
            technologies=Criterion(("Salesforce",), 0),
            competitors=("Outreach", "outreach"),
            exclusions=Exclusions(
                company_domains=("www.Rival.com", "@other.io"), countries=("fr",), title_keywords=("Intern",)
            ),
        )
    )
    assert profile.seniorities.values == (Seniority.VP, Seniority.DIRECTOR)
    assert profile.title_keywords.values == ("sales operations", "revops")
    assert profile.countries.values == ("US", "GB")
    assert profile.technologies == Criterion(("salesforce",), 0)
    assert profile.industries.values == ("SaaS",)
    assert profile.competitors == ("outreach",)
    assert profile.exclusions.company_domains == ("rival.com", "other.io")
    assert profile.exclusions.countries == ("FR",)
    assert profile.exclusions.title_keywords == ("intern",)
    assert validate_profile(profile) == profile


def test_values_with_weight_zero_and_an_empty_unweighted_criterion_are_fine() -> None:
    profile = validate_profile(replace(VALID, company_sizes=Criterion((CompanySize.S_51_200,), 0)))
    assert profile.company_sizes.weight == 0 and profile.departments == Criterion((), 0)


async def update_error(scoring: pb_grpc.ScoringServiceStub, profile: pb.IcpProfile) -> InvalidArgument:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await scoring.UpdateIcpProfile(pb.UpdateIcpProfileRequest(account_id="acct_v", profile=profile))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = error_from_rpc(raised.value)
    assert isinstance(error, InvalidArgument)
    return error


async def test_unknown_enum_values_are_invalid_argument_over_grpc(
    scoring: pb_grpc.ScoringServiceStub,
) -> None:
    profile = pb.IcpProfile(
        seniorities=pb.SeniorityCriterion(values=[common.SENIORITY_VP, 42], weight=50),
        industries=pb.KeywordCriterion(values=["SaaS"], weight=50),
    )
    error = await update_error(scoring, profile)
    assert (error.reason, error.metadata) == ("ICP_UNKNOWN_VALUE", {"field": "seniorities.values[1]"})
    assert "unknown seniority 42" in error.message

    profile = pb.IcpProfile(
        departments=pb.DepartmentCriterion(values=[common.DEPARTMENT_UNSPECIFIED], weight=50),
    )
    error = await update_error(scoring, profile)
    assert (error.reason, error.metadata) == ("ICP_UNKNOWN_VALUE", {"field": "departments.values[0]"})

    profile = pb.IcpProfile(
        seniorities=pb.SeniorityCriterion(values=[common.SENIORITY_VP], weight=50),
        exclusions=pb.IcpExclusions(seniorities=[99]),
    )
    error = await update_error(scoring, profile)
    assert error.metadata == {"field": "exclusions.seniorities[0]"}


async def test_rule_violations_are_invalid_argument_over_grpc(scoring: pb_grpc.ScoringServiceStub) -> None:
    error = await update_error(
        scoring,
        pb.IcpProfile(
            seniorities=pb.SeniorityCriterion(values=[common.SENIORITY_VP], weight=50),
            industries=pb.KeywordCriterion(weight=15),
        ),
    )
    assert (error.reason, error.metadata) == ("ICP_CRITERION_EMPTY", {"field": "industries.values"})
    error = await update_error(
        scoring,
        pb.IcpProfile(
            seniorities=pb.SeniorityCriterion(values=[common.SENIORITY_VP], weight=50),
            tiers=pb.IcpTiers(high_priority=40, nurture=60),
        ),
    )
    assert (error.reason, error.metadata) == ("ICP_TIERS_INVALID", {"field": "tiers.nurture"})
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await scoring.UpdateIcpProfile(pb.UpdateIcpProfileRequest(account_id="acct_v"))
    assert error_from_rpc(raised.value).reason == "PROFILE_REQUIRED"
    # Nothing was stored by the failed updates.
    current = await scoring.GetIcpProfile(pb.GetIcpProfileRequest(account_id="acct_v"))
    assert current.profile.version == 1 and current.profile.is_default


async def test_unset_tiers_and_penalty_mean_the_defaults(scoring: pb_grpc.ScoringServiceStub) -> None:
    updated = await scoring.UpdateIcpProfile(
        pb.UpdateIcpProfileRequest(
            account_id="acct_d",
            profile=pb.IcpProfile(
                departments=pb.DepartmentCriterion(values=[common.DEPARTMENT_SALES], weight=100),
                exclusions=pb.IcpExclusions(industries=["Education"]),
            ),
        )
    )
    assert (updated.profile.tiers.high_priority, updated.profile.tiers.nurture) == (80, 50)
    assert updated.profile.exclusions.penalty == 100
    assert updated.profile.intent_boost_max == 0


def test_departments_and_seniorities_cover_the_shared_vocabulary() -> None:
    assert {f"DEPARTMENT_{d.name}" for d in Department} == set(common.Department.keys()) - {
        "DEPARTMENT_UNSPECIFIED"
    }
    assert {f"SENIORITY_{s.name}" for s in Seniority} == set(common.Seniority.keys()) - {
        "SENIORITY_UNSPECIFIED"
    }
