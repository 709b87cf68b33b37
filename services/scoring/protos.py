"""Conversions between scoring's protos and its domain: profiles, subjects, scores."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from libs.protos import timestamp
from libs.vocabulary import ICP_TIER_NAMES, INTENT_CATEGORY_NAMES, from_proto, to_proto
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

V = TypeVar("V", bound=enum.StrEnum)

_INTENT_CATEGORY = {number: IntentCategory(name) for number, name in INTENT_CATEGORY_NAMES.items()}
_TIER: dict[IcpTier, Any] = {IcpTier(name): number for number, name in ICP_TIER_NAMES.items()}


def timestamp_seconds(stamp: Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


# profiles


def _members(field: str, numbers: Any, vocabulary: type[V], kind: str) -> tuple[V, ...]:
    members = []
    for index, number in enumerate(numbers):
        member = from_proto(vocabulary, number)
        if member is None:
            raise invalid(f"{field}[{index}]", f"unknown {kind} {number}", "ICP_UNKNOWN_VALUE")
        members.append(member)
    return tuple(members)


def _enum_criterion(name: str, message: Any, vocabulary: type[V], kind: str) -> Criterion[V]:
    return Criterion(_members(f"{name}.values", message.values, vocabulary, kind), message.weight)


def _text_criterion(message: pb.KeywordCriterion) -> Criterion[str]:
    return Criterion(tuple(message.values), message.weight)


def profile_from_proto(message: pb.IcpProfile) -> IcpProfile:
    """The profile a caller sent (not yet validated); unknown enum numbers are INVALID_ARGUMENT."""
    exclusions = message.exclusions
    return IcpProfile(
        seniorities=_enum_criterion("seniorities", message.seniorities, Seniority, "seniority"),
        departments=_enum_criterion("departments", message.departments, Department, "department"),
        title_keywords=_text_criterion(message.title_keywords),
        company_sizes=_enum_criterion("company_sizes", message.company_sizes, CompanySize, "company size"),
        industries=_text_criterion(message.industries),
        revenues=_enum_criterion("revenues", message.revenues, RevenueRange, "revenue range"),
        countries=_text_criterion(message.countries),
        technologies=_text_criterion(message.technologies),
        competitors=tuple(message.competitors),
        exclusions=Exclusions(
            industries=tuple(exclusions.industries),
            title_keywords=tuple(exclusions.title_keywords),
            seniorities=_members("exclusions.seniorities", exclusions.seniorities, Seniority, "seniority"),
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
    values = [to_proto(value) if isinstance(value, enum.StrEnum) else value for value in criterion.values]
    return {"values": values, "weight": criterion.weight}


def profile_to_proto(versioned: VersionedProfile) -> pb.IcpProfile:
    profile = versioned.profile
    exclusions = profile.exclusions
    excluded_seniorities: list[Any] = [to_proto(value) for value in exclusions.seniorities]
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
            seniorities=excluded_seniorities,
            company_domains=exclusions.company_domains,
            countries=exclusions.countries,
            penalty=exclusions.penalty,
        ),
        tiers=pb.IcpTiers(high_priority=profile.tiers.high_priority, nurture=profile.tiers.nurture),
        intent_boost_max=profile.intent_boost_max,
        create_time=timestamp(versioned.create_time),
        is_default=versioned.is_default,
    )


# subjects and scores


def _intent(signal: common.IntentSignal) -> IntentObservation:
    return IntentObservation(
        name=signal.name,
        category=_INTENT_CATEGORY.get(signal.category, IntentCategory.OTHER),
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
        seniority=from_proto(Seniority, person.seniority),
        department=from_proto(Department, person.department),
        title=person.title or person.raw_title,
        company_name=company.name,
        company_domain=company.domain,
        company_size=from_proto(CompanySize, company.size),
        employee_count=company.employee_count,
        industry=company.industry,
        revenue=from_proto(RevenueRange, company.revenue),
        person_country=person.country,
        company_country=company.country,
        technologies=tuple(company.technologies),
        intents=tuple(_intent(signal) for signal in intents) if intents else (),
    )


def fill_score(target: common.IcpScore, score: IcpScore) -> None:
    target.score = score.score
    target.tier = _TIER[score.tier]
    target.confidence = score.confidence
    target.profile_version = score.profile_version
    signals = target.signals
    for signal in score.signals:
        signals.add(name=signal.name, points=signal.points, detail=signal.detail)
