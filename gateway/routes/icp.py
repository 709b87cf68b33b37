"""GET/PUT /v1/icp: the caller's Ideal Customer Profile, versioned; GET /v1/icp/versions.

Enum values are the public lower-case names (``vp``, ``c_level``, ``revenue_operations``) and
the public ranges (``51-200``, ``$10M-$25M``). A PUT replaces the whole profile and answers the
new version (the same version when nothing changed); ``If-Match: "<version>"`` makes it fail
with 409 ``ICP_VERSION_CONFLICT`` unless that is still the current version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gateway import examples
from gateway.auth import Caller, CurrentCaller
from gateway.errors import ApiError
from gateway.records import LIVEMODE_FIELD
from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from libs.vocabulary import CompanySize, Department, Seniority, to_proto
from libs.vocabulary import RevenueRange as Revenue

router = APIRouter(prefix="/v1", tags=["icp"])


_SENIORITIES = {to_proto(member): member for member in Seniority}
_DEPARTMENTS = {to_proto(member): member for member in Department}
_SIZES = {to_proto(member): member for member in CompanySize}
_REVENUES = {to_proto(member): member for member in Revenue}


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


SeniorityName = Annotated[Seniority, BeforeValidator(_lower)]
DepartmentName = Annotated[Department, BeforeValidator(_lower)]
SizeName = Annotated[CompanySize, BeforeValidator(_lower)]
RevenueName = Annotated[Revenue, BeforeValidator(_upper)]
Weight = Annotated[int, Field(ge=0, le=100, description="Points (0-100) of matching any of the values")]
Text = Annotated[str, Field(max_length=200)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeniorityCriterion(_Body):
    values: list[SeniorityName] = []
    weight: Weight = 0


class DepartmentCriterion(_Body):
    values: list[DepartmentName] = []
    weight: Weight = 0


class CompanySizeCriterion(_Body):
    values: list[SizeName] = []
    weight: Weight = 0


class RevenueCriterion(_Body):
    values: list[RevenueName] = []
    weight: Weight = 0


class KeywordCriterion(_Body):
    values: list[Text] = []
    weight: Weight = 0


class Exclusions(_Body):
    industries: list[Text] = []
    title_keywords: list[Text] = []
    seniorities: list[SeniorityName] = []
    company_domains: list[Text] = []
    countries: list[Text] = []
    penalty: int = Field(
        default=100, ge=0, le=100, description="Points subtracted per matched exclusion; 100 disqualifies"
    )


class Tiers(_Body):
    high_priority: int = Field(default=80, ge=0, le=100)
    nurture: int = Field(default=50, ge=0, le=100)


class IcpProfileIn(_Body):
    """A whole profile; what is left out is empty (criteria) or the default (tiers, boost)."""

    seniorities: SeniorityCriterion = SeniorityCriterion()
    departments: DepartmentCriterion = DepartmentCriterion()
    title_keywords: KeywordCriterion = KeywordCriterion()
    company_sizes: CompanySizeCriterion = CompanySizeCriterion()
    industries: KeywordCriterion = KeywordCriterion()
    revenues: RevenueCriterion = RevenueCriterion()
    countries: KeywordCriterion = Field(
        default=KeywordCriterion(), description="ISO 3166-1 alpha-2 codes of the person or the company"
    )
    technologies: KeywordCriterion = KeywordCriterion()
    competitors: list[Text] = Field(
        default=[], description="Their employees are excluded; intent mentioning them counts more"
    )
    exclusions: Exclusions = Exclusions()
    tiers: Tiers = Tiers()
    intent_boost_max: int = Field(default=15, ge=0, le=30, description="Most points recent intent adds")


class IcpProfileOut(IcpProfileIn):
    version: int
    is_default: bool = Field(description="The built-in default the account never changed")
    created_at: datetime


class IcpProfileAnswer(IcpProfileOut):
    """The profile as GET and PUT answer it. The profile is the account's, shared by its live and
    test keys; ``livemode`` says which kind of key asked."""

    livemode: bool = LIVEMODE_FIELD


class IcpProfileVersions(BaseModel):
    versions: list[IcpProfileOut]
    next_page_token: str | None
    livemode: bool = LIVEMODE_FIELD


def _to_proto(body: IcpProfileIn) -> pb.IcpProfile:
    def numbers(values: list[Any]) -> list[Any]:
        return [to_proto(value) for value in values]

    def keywords(criterion: KeywordCriterion) -> pb.KeywordCriterion:
        return pb.KeywordCriterion(values=criterion.values, weight=criterion.weight)

    exclusions = body.exclusions
    return pb.IcpProfile(
        seniorities=pb.SeniorityCriterion(
            values=numbers(body.seniorities.values), weight=body.seniorities.weight
        ),
        departments=pb.DepartmentCriterion(
            values=numbers(body.departments.values), weight=body.departments.weight
        ),
        title_keywords=keywords(body.title_keywords),
        company_sizes=pb.CompanySizeCriterion(
            values=numbers(body.company_sizes.values), weight=body.company_sizes.weight
        ),
        industries=keywords(body.industries),
        revenues=pb.RevenueCriterion(values=numbers(body.revenues.values), weight=body.revenues.weight),
        countries=keywords(body.countries),
        technologies=keywords(body.technologies),
        competitors=body.competitors,
        exclusions=pb.IcpExclusions(
            industries=exclusions.industries,
            title_keywords=exclusions.title_keywords,
            seniorities=numbers(exclusions.seniorities),
            company_domains=exclusions.company_domains,
            countries=exclusions.countries,
            penalty=exclusions.penalty,
        ),
        tiers=pb.IcpTiers(high_priority=body.tiers.high_priority, nurture=body.tiers.nurture),
        intent_boost_max=body.intent_boost_max,
    )


def _from_proto(profile: pb.IcpProfile) -> IcpProfileOut:
    exclusions = profile.exclusions
    return IcpProfileOut(
        version=profile.version,
        is_default=profile.is_default,
        created_at=profile.create_time.ToDatetime(tzinfo=UTC),
        seniorities=SeniorityCriterion(
            values=[_SENIORITIES[v] for v in profile.seniorities.values], weight=profile.seniorities.weight
        ),
        departments=DepartmentCriterion(
            values=[_DEPARTMENTS[v] for v in profile.departments.values], weight=profile.departments.weight
        ),
        title_keywords=KeywordCriterion(
            values=list(profile.title_keywords.values), weight=profile.title_keywords.weight
        ),
        company_sizes=CompanySizeCriterion(
            values=[_SIZES[v] for v in profile.company_sizes.values], weight=profile.company_sizes.weight
        ),
        industries=KeywordCriterion(values=list(profile.industries.values), weight=profile.industries.weight),
        revenues=RevenueCriterion(
            values=[_REVENUES[v] for v in profile.revenues.values], weight=profile.revenues.weight
        ),
        countries=KeywordCriterion(values=list(profile.countries.values), weight=profile.countries.weight),
        technologies=KeywordCriterion(
            values=list(profile.technologies.values), weight=profile.technologies.weight
        ),
        competitors=list(profile.competitors),
        exclusions=Exclusions(
            industries=list(exclusions.industries),
            title_keywords=list(exclusions.title_keywords),
            seniorities=[_SENIORITIES[v] for v in exclusions.seniorities],
            company_domains=list(exclusions.company_domains),
            countries=list(exclusions.countries),
            penalty=exclusions.penalty,
        ),
        tiers=Tiers(high_priority=profile.tiers.high_priority, nurture=profile.tiers.nurture),
        intent_boost_max=profile.intent_boost_max,
    )


def _answer(profile: pb.IcpProfile, caller: Caller) -> IcpProfileAnswer:
    return IcpProfileAnswer(**dict(_from_proto(profile)), livemode=not caller.test_mode)


def _expected_version(if_match: str | None) -> int:
    """The version an ``If-Match`` ETag names; 0 without one."""
    if if_match is None or if_match.strip() == "*":
        return 0
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or int(tag) < 1 or int(tag) > 2**31 - 1:
        raise ApiError(400, 'If-Match must be the ETag of a profile version, e.g. "3"', "INVALID_IF_MATCH")
    return int(tag)


def _etag(response: Response, profile: pb.IcpProfile) -> None:
    response.headers["ETag"] = f'"{profile.version}"'


@router.get(
    "/icp",
    response_model=IcpProfileAnswer,
    summary="Your ICP profile (current or a given version)",
    responses={200: examples.json_example(examples.ICP_ANSWER)},
)
async def get_icp(
    request: Request,
    response: Response,
    caller: CurrentCaller,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="A past version")] = None,
) -> IcpProfileAnswer:
    reply = await request.app.state.mesh.scoring.GetIcpProfile(
        pb.GetIcpProfileRequest(account_id=caller.account_id, version=version or 0)
    )
    _etag(response, reply.profile)
    return _answer(reply.profile, caller)


@router.put(
    "/icp",
    response_model=IcpProfileAnswer,
    summary="Replace your ICP profile (stores a new version)",
    responses={200: examples.json_example(examples.ICP_ANSWER)},
)
async def put_icp(
    request: Request,
    response: Response,
    caller: CurrentCaller,
    body: Annotated[
        IcpProfileIn,
        Body(openapi_examples={"profile": {"summary": "A whole profile", "value": examples.ICP_PROFILE_IN}}),
    ],
    if_match: Annotated[str | None, Header(description='Expected current version, e.g. "3"')] = None,
) -> IcpProfileAnswer:
    reply = await request.app.state.mesh.scoring.UpdateIcpProfile(
        pb.UpdateIcpProfileRequest(
            account_id=caller.account_id,
            profile=_to_proto(body),
            expected_version=_expected_version(if_match),
        )
    )
    _etag(response, reply.profile)
    return _answer(reply.profile, caller)


@router.get(
    "/icp/versions",
    response_model=IcpProfileVersions,
    summary="Every version of your ICP profile, newest first",
    responses={200: examples.json_example(examples.ICP_VERSIONS)},
)
async def list_icp_versions(
    request: Request,
    caller: CurrentCaller,
    page_size: Annotated[int, Query(ge=1, le=100, description="Versions per page")] = 20,
    page_token: Annotated[
        str | None, Query(max_length=512, description="From a previous next_page_token")
    ] = None,
) -> IcpProfileVersions:
    reply = await request.app.state.mesh.scoring.ListIcpProfileVersions(
        pb.ListIcpProfileVersionsRequest(
            account_id=caller.account_id, page_size=page_size, page_token=page_token or ""
        )
    )
    return IcpProfileVersions(
        versions=[_from_proto(profile) for profile in reply.profiles],
        next_page_token=reply.next_page_token or None,
        livemode=not caller.test_mode,
    )
