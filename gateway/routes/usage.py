"""GET /v1/usage: leads enriched and credits used per UTC day, single leads apart from CSV jobs."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from gateway import examples
from gateway.auth import CurrentCaller
from leadmesh.billing.v1 import billing_service_pb2 as pb

router = APIRouter(prefix="/v1", tags=["credits"])


class SourceUsage(BaseModel):
    leads: int = Field(description="Leads charged")
    credits: int = Field(description="Credits they used")


class UsageDay(BaseModel):
    date: date
    single_leads: SourceUsage = Field(description="POST /v1/enrich/lead and /v1/enrich/csv_row")
    csv_jobs: SourceUsage = Field(description="Rows of CSV files (POST /v1/enrich/csv)")


class UsageTotals(BaseModel):
    single_leads: SourceUsage
    csv_jobs: SourceUsage


class Usage(BaseModel):
    days: int
    daily: list[UsageDay] = Field(description="One entry per day, oldest first, today last")
    totals: UsageTotals


_DAY = {
    "date": "2026-04-15",
    "single_leads": {"leads": 12, "credits": 32},
    "csv_jobs": {"leads": 480, "credits": 480},
}


@router.get(
    "/usage",
    response_model=Usage,
    summary="Leads enriched and credits used per day, by source",
    responses={
        200: examples.json_example(
            {"days": 1, "daily": [_DAY], "totals": {k: v for k, v in _DAY.items() if k != "date"}}
        )
    },
)
async def get_usage(
    request: Request,
    caller: CurrentCaller,
    days: Annotated[int, Query(ge=1, le=90, description="How many days, today included")] = 30,
) -> Usage:
    got = await request.app.state.mesh.billing.GetUsage(
        pb.GetUsageRequest(account_id=caller.account_id, days=days)
    )
    daily = [
        UsageDay(
            date=date.fromisoformat(day.date),
            single_leads=SourceUsage(leads=day.single_leads, credits=day.single_credits),
            csv_jobs=SourceUsage(leads=day.csv_leads, credits=day.csv_credits),
        )
        for day in got.days
    ]
    return Usage(
        days=days,
        daily=daily,
        totals=UsageTotals(single_leads=_sum(daily, "single_leads"), csv_jobs=_sum(daily, "csv_jobs")),
    )


def _sum(daily: list[UsageDay], source: str) -> SourceUsage:
    parts = [getattr(day, source) for day in daily]
    return SourceUsage(leads=sum(p.leads for p in parts), credits=sum(p.credits for p in parts))
