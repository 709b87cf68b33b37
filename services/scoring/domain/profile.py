"""The Ideal Customer Profile: weighted criteria, exclusions, tiers, and the default one."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Generic, TypeVar

from services.scoring.domain.vocabulary import CompanySize, Department, RevenueRange, Seniority

__all__ = [
    "CRITERIA",
    "DEFAULT_PROFILE",
    "Criterion",
    "Exclusions",
    "IcpProfile",
    "Tiers",
    "VersionedProfile",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Criterion(Generic[T]):
    """A set of target values and the weight (0-100) of matching any of them."""

    values: tuple[T, ...] = ()
    weight: int = 0


@dataclass(frozen=True)
class Exclusions:
    """Negative criteria: each one a lead matches subtracts ``penalty`` points (100 disqualifies).

    An employee of one of the profile's competitors is excluded the same way.
    """

    industries: tuple[str, ...] = ()
    title_keywords: tuple[str, ...] = ()
    seniorities: tuple[Seniority, ...] = ()
    company_domains: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    penalty: int = 100


@dataclass(frozen=True)
class Tiers:
    """Score at or above which a lead is ``high_priority``, and ``nurture``; below, ``deprioritize``."""

    high_priority: int = 80
    nurture: int = 50


@dataclass(frozen=True)
class IcpProfile:
    """What one account's ideal customer looks like. Weights are relative: the score is the
    matched share of the total weight, so a lead matching every weighted criterion scores 100."""

    seniorities: Criterion[Seniority] = field(default_factory=Criterion)
    departments: Criterion[Department] = field(default_factory=Criterion)
    title_keywords: Criterion[str] = field(default_factory=Criterion)
    company_sizes: Criterion[CompanySize] = field(default_factory=Criterion)
    industries: Criterion[str] = field(default_factory=Criterion)
    revenues: Criterion[RevenueRange] = field(default_factory=Criterion)
    # ISO 3166-1 alpha-2.
    countries: Criterion[str] = field(default_factory=Criterion)
    technologies: Criterion[str] = field(default_factory=Criterion)
    # Names or domains; their employees are excluded and intent mentioning them is boosted.
    competitors: tuple[str, ...] = ()
    exclusions: Exclusions = field(default_factory=Exclusions)
    tiers: Tiers = field(default_factory=Tiers)
    # Upper bound (0-30) of the points recent intent signals can add.
    intent_boost_max: int = 15

    def criteria(self) -> list[tuple[str, Criterion[object]]]:
        """``(field name, criterion)`` of the eight weighted criteria, in scoring order."""
        return [(name, getattr(self, name)) for name in CRITERIA]

    @property
    def total_weight(self) -> int:
        return sum(criterion.weight for _, criterion in self.criteria())


# The weighted criteria, in the order their signals are reported, and each one's signal name.
CRITERIA: dict[str, str] = {
    "seniorities": "target_seniority",
    "departments": "target_department",
    "title_keywords": "title_keyword_match",
    "company_sizes": "company_size_fit",
    "industries": "industry_match",
    "revenues": "revenue_fit",
    "countries": "geo_match",
    "technologies": "tech_stack_match",
}
assert list(CRITERIA) == [f.name for f in fields(IcpProfile)][: len(CRITERIA)]


@dataclass(frozen=True)
class VersionedProfile:
    """One stored version of an account's profile. ``is_default``: the built-in profile the
    account never changed."""

    account_id: str
    version: int
    profile: IcpProfile
    create_time: datetime
    is_default: bool = False


# What a new account starts with: decision makers in go-to-market teams of mid-market
# companies, the buyers of a B2B sales tool. No industry, geography or stack is assumed.
DEFAULT_PROFILE = IcpProfile(
    seniorities=Criterion(
        (Seniority.DIRECTOR, Seniority.VP, Seniority.C_LEVEL, Seniority.OWNER, Seniority.PARTNER), 35
    ),
    departments=Criterion(
        (Department.SALES, Department.MARKETING, Department.REVENUE_OPERATIONS, Department.EXECUTIVE), 20
    ),
    company_sizes=Criterion(
        (CompanySize.S_51_200, CompanySize.S_201_500, CompanySize.S_501_1000, CompanySize.S_1001_5000), 30
    ),
    revenues=Criterion(
        (
            RevenueRange.R_10M_25M,
            RevenueRange.R_25M_50M,
            RevenueRange.R_50M_100M,
            RevenueRange.R_100M_250M,
            RevenueRange.R_250M_500M,
        ),
        15,
    ),
    exclusions=Exclusions(title_keywords=("intern", "student", "trainee")),
)
