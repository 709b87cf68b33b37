"""Conversions between scoring's protos and its domain: profiles, subjects, scores."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from libs.vocabulary import to_proto
from services.scoring.domain import (
    CompanySize,
    Criterion,
    Department,
    Exclusions,
    IcpProfile,
    IcpScore,
    IcpTier,
    IntentCategory,
    IntentObservation,
    RevenueRange,
    Seniority,
    Subject,
    Tiers,
    VersionedProfile,
    invalid,
)

__all__ = [
    "fill_score",
    "profile_from_proto",
    "profile_to_proto",
    "subject_from_proto",
    "timestamp_seconds",
]

E = TypeVar("E", bound=enum.Enum)
V = TypeVar("V", bound=enum.StrEnum)


def _table(domain: type[V]) -> dict[int, V]:
    """Proto enum number -> domain member."""
    return {to_proto(member): member for member in domain}


SENIORITY = _table(Seniority)
DEPARTMENT = _table(Department)
COMPANY_SIZE = _table(CompanySize)
REVENUE = _table(RevenueRange)
INTENT_CATEGORY = {
    common.INTENT_CATEGORY_HIRING: IntentCategory.HIRING,
    common.INTENT_CATEGORY_TECHNOLOGY: IntentCategory.TECHNOLOGY,
    common.INTENT_CATEGORY_ENGAGEMENT: IntentCategory.ENGAGEMENT,
}
TIER = {
    IcpTier.HIGH_PRIORITY: common.ICP_TIER_HIGH_PRIORITY,
    IcpTier.NURTURE: common.ICP_TIER_NURTURE,
    IcpTier.DEPRIORITIZE: common.ICP_TIER_DEPRIORITIZE,
}
_NUMBER: dict[enum.Enum, Any] = {
    member: number
    for table in (SENIORITY, DEPARTMENT, COMPANY_SIZE, REVENUE)
    for number, member in table.items()
}


def timestamp_seconds(stamp: Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


# profiles


def _members(field: str, numbers: Any, table: Mapping[int, E], kind: str) -> tuple[E, ...]:
    members = []
    for index, number in enumerate(numbers):
        member = table.get(number)
        if member is None:
            raise invalid(f"{field}[{index}]", f"unknown {kind} {number}", "ICP_UNKNOWN_VALUE")
        members.append(member)
    return tuple(members)


def _enum_criterion(name: str, message: Any, table: Mapping[int, E], kind: str) -> Criterion[E]:
    return Criterion(_members(f"{name}.values", message.values, table, kind), message.weight)


def _text_criterion(message: pb.KeywordCriterion) -> Criterion[str]:
    return Criterion(tuple(message.values), message.weight)


def profile_from_proto(message: pb.IcpProfile) -> IcpProfile:
    """The profile a caller sent (not yet validated); unknown enum numbers are INVALID_ARGUMENT."""
    exclusions = message.exclusions
    return IcpProfile(
        seniorities=_enum_criterion("seniorities", message.seniorities, SENIORITY, "seniority"),
        departments=_enum_criterion("departments", message.departments, DEPARTMENT, "department"),
        title_keywords=_text_criterion(message.title_keywords),
        company_sizes=_enum_criterion("company_sizes", message.company_sizes, COMPANY_SIZE, "company size"),
        industries=_text_criterion(message.industries),
        revenues=_enum_criterion("revenues", message.revenues, REVENUE, "revenue range"),
        countries=_text_criterion(message.countries),
        technologies=_text_criterion(message.technologies),
        competitors=tuple(message.competitors),
        exclusions=Exclusions(
            industries=tuple(exclusions.industries),
            title_keywords=tuple(exclusions.title_keywords),
            seniorities=_members("exclusions.seniorities", exclusions.seniorities, SENIORITY, "seniority"),
            company_domains=tuple(exclusions.company_domains),
            countries=tuple(exclusions.countries),
            penalty=exclusions.penalty if exclusions.HasField("penalty") else Exclusions.penalty,
        ),
        tiers=Tiers(message.tiers.high_priority, message.tiers.nurture)
        if message.HasField("tiers")
        else Tiers(),
        intent_boost_max=message.intent_boost_max,
    )


def _criterion_fields(criterion: Criterion[Any]) -> dict[str, Any]:
    values = [_NUMBER[value] if isinstance(value, enum.Enum) else value for value in criterion.values]
    return {"values": values, "weight": criterion.weight}


def profile_to_proto(versioned: VersionedProfile) -> pb.IcpProfile:
    profile = versioned.profile
    exclusions = profile.exclusions
    created = Timestamp()
    created.FromDatetime(versioned.create_time)
    return pb.IcpProfile(
        account_id=versioned.account_id,
        version=versioned.version,
        seniorities=pb.SeniorityCriterion(**_criterion_fields(profile.seniorities)),
        departments=pb.DepartmentCriterion(**_criterion_fields(profile.departments)),
        title_keywords=pb.KeywordCriterion(**_criterion_fields(profile.title_keywords)),
        company_sizes=pb.CompanySizeCriterion(**_criterion_fields(profile.company_sizes)),
        industries=pb.KeywordCriterion(**_criterion_fields(profile.industries)),
        revenues=pb.RevenueCriterion(**_criterion_fields(profile.revenues)),
        countries=pb.KeywordCriterion(**_criterion_fields(profile.countries)),
        technologies=pb.KeywordCriterion(**_criterion_fields(profile.technologies)),
        competitors=profile.competitors,
        exclusions=pb.IcpExclusions(
            industries=exclusions.industries,
            title_keywords=exclusions.title_keywords,
            seniorities=[_NUMBER[value] for value in exclusions.seniorities],
            company_domains=exclusions.company_domains,
            countries=exclusions.countries,
            penalty=exclusions.penalty,
        ),
        tiers=pb.IcpTiers(high_priority=profile.tiers.high_priority, nurture=profile.tiers.nurture),
        intent_boost_max=profile.intent_boost_max,
        create_time=created,
        is_default=versioned.is_default,
    )


# subjects and scores


def _intent(signal: common.IntentSignal) -> IntentObservation:
    return IntentObservation(
        name=signal.name,
        category=INTENT_CATEGORY.get(signal.category, IntentCategory.OTHER),
        strength=signal.strength,
        base_strength=signal.base_strength,
        observed_at=timestamp_seconds(signal.observed_time) if signal.HasField("observed_time") else None,
        source=signal.source,
        evidence=tuple(signal.evidence),
    )


def subject_from_proto(subject: pb.ScoringSubject) -> Subject:
    """What a subject tells; values we do not know (unset or newer enum numbers) are missing data."""
    person, company = subject.person, subject.company
    intents = subject.intent_signals
    return Subject(
        seniority=SENIORITY.get(person.seniority),
        department=DEPARTMENT.get(person.department),
        title=person.title or person.raw_title,
        company_name=company.name,
        company_domain=company.domain,
        company_size=COMPANY_SIZE.get(company.size),
        employee_count=company.employee_count,
        industry=company.industry,
        revenue=REVENUE.get(company.revenue),
        person_country=person.country,
        company_country=company.country,
        technologies=tuple(company.technologies),
        intents=tuple(_intent(signal) for signal in intents) if intents else (),
    )


def fill_score(target: common.IcpScore, score: IcpScore) -> None:
    target.score = score.score
    target.tier = TIER[score.tier]
    target.confidence = score.confidence
    target.profile_version = score.profile_version
    signals = target.signals
    for signal in score.signals:
        signals.add(name=signal.name, points=signal.points, detail=signal.detail)
