"""Scoring's domain: the ICP profile (``profile``) and its validation (``validation``), the
default profile, each rule of the score (``rules``), the scorer that runs them (``scorer``) and
the intent boost (``intent``)."""

from services.scoring.domain.intent import HALF_LIFE_DAYS, IntentCategory, IntentObservation, intent_boost
from services.scoring.domain.profile import (
    CRITERIA,
    DEFAULT_PROFILE,
    Criterion,
    Exclusions,
    IcpProfile,
    Tiers,
    VersionedProfile,
)
from services.scoring.domain.rules import Subject
from services.scoring.domain.scorer import IcpScore, IcpScorer, IcpSignal, IcpTier, tier_of
from services.scoring.domain.validation import invalid, validate_profile
from services.scoring.domain.vocabulary import (
    CompanySize,
    Department,
    RevenueRange,
    Seniority,
    size_of_headcount,
)

__all__ = [
    "CRITERIA",
    "DEFAULT_PROFILE",
    "HALF_LIFE_DAYS",
    "CompanySize",
    "Criterion",
    "Department",
    "Exclusions",
    "IcpProfile",
    "IcpScore",
    "IcpScorer",
    "IcpSignal",
    "IcpTier",
    "IntentCategory",
    "IntentObservation",
    "RevenueRange",
    "Seniority",
    "Subject",
    "Tiers",
    "VersionedProfile",
    "intent_boost",
    "invalid",
    "size_of_headcount",
    "tier_of",
    "validate_profile",
]
