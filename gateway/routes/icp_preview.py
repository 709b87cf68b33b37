"""POST /v1/icp/preview: a sample lead scored by a draft ICP profile, which is validated like a
PUT /v1/icp but never stored (the dashboard's live preview while the profile is edited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway import examples
from gateway.auth import CurrentCaller
from gateway.records import IcpPoints

# The profile's JSON -> proto conversion is the PUT's own, so a preview scores what a save would store.
from gateway.routes.icp import DepartmentName, IcpProfileIn, RevenueName, SeniorityName, SizeName, _to_proto
from leadmesh.common.v1 import common_pb2 as common
from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from libs.vocabulary import ICP_TIER_NAMES, to_proto

router = APIRouter(prefix="/v1", tags=["icp"])
Text = Annotated[str, Field(default="", max_length=320)]


class SampleLead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Text = ""
    seniority: SeniorityName | None = None
    department: DepartmentName | None = None
    company_name: Text = ""
    company_domain: Text = ""
    company_industry: Text = ""
    company_size: SizeName | None = None
    company_revenue: RevenueName | None = None
    country: Text = Field(default="", max_length=2, description="ISO 3166-1 alpha-2")
    technologies: list[Annotated[str, Field(max_length=100)]] = Field(default=[], max_length=50)


class IcpPreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: IcpProfileIn
    lead: SampleLead


class IcpPreview(BaseModel):
    icp_score: int
    icp_tier: str
    icp_breakdown: list[IcpPoints]


_SAMPLE = {"title": "VP of Sales", "seniority": "vp", "company_industry": "SaaS", "company_size": "51-200"}
_EXAMPLE = {"profile": examples.ICP_PROFILE_IN, "lead": _SAMPLE}


def _subject(lead: SampleLead) -> pb.ScoringSubject:
    def number(value: object) -> int:
        return to_proto(value) if value is not None else 0  # type: ignore[arg-type]

    return pb.ScoringSubject(
        person=common.Person(
            title=lead.title,
            seniority=number(lead.seniority),  # type: ignore[arg-type]
            department=number(lead.department),  # type: ignore[arg-type]
            country=lead.country.upper(),
        ),
        company=common.Company(
            name=lead.company_name,
            domain=lead.company_domain,
            industry=lead.company_industry,
            size=number(lead.company_size),  # type: ignore[arg-type]
            revenue=number(lead.company_revenue),  # type: ignore[arg-type]
            country=lead.country.upper(),
            technologies=lead.technologies,
        ),
    )


@router.post(
    "/icp/preview",
    response_model=IcpPreview,
    summary="Score a sample lead with a draft ICP profile (nothing stored, nothing charged)",
    responses={
        200: examples.json_example(
            {
                "icp_score": 60,
                "icp_tier": "nurture",
                "icp_breakdown": [{"name": "target_seniority", "points": 35, "detail": "vp"}],
            }
        )
    },
)
async def preview_icp(
    request: Request,
    caller: CurrentCaller,
    body: Annotated[
        IcpPreviewIn,
        Body(
            openapi_examples={
                "draft": {
                    "summary": "A draft and a sample lead",
                    "value": {"profile": examples.ICP_PROFILE_IN, "lead": _SAMPLE},
                }
            }
        ),
    ],
) -> IcpPreview:
    reply = await request.app.state.mesh.scoring.Score(
        pb.ScoreRequest(
            account_id=caller.account_id, subject=_subject(body.lead), draft_profile=_to_proto(body.profile)
        )
    )
    score = reply.score
    return IcpPreview(
        icp_score=score.score,
        icp_tier=ICP_TIER_NAMES.get(score.tier, "deprioritize"),
        icp_breakdown=[
            IcpPoints(name=s.name, points=s.points, detail=s.detail or None) for s in score.signals
        ],
    )
