"""The closed vocabularies of a lead by their public names (``c_level``, ``51-200``,
``$10M-$25M``) and their ``leadmesh.common.v1`` proto enum numbers, both ways.

Members and proto values correspond by name: ``Seniority.C_LEVEL`` is ``SENIORITY_C_LEVEL``,
``CompanySize.S_51_200`` is ``COMPANY_SIZE_51_200``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from leadmesh.common.v1 import common_pb2 as common
from libs.normalize.taxonomy import CompanySize, Department, RevenueRange, Seniority

__all__ = [
    "EMAIL_STATUS_NAMES",
    "ICP_TIER_NAMES",
    "INTENT_CATEGORY_NAMES",
    "CompanySize",
    "Department",
    "RevenueRange",
    "Seniority",
    "from_proto",
    "to_proto",
]

# Public names of the other enums a lead carries (UNSPECIFIED has none).
EMAIL_STATUS_NAMES: dict[int, str] = {
    common.EMAIL_STATUS_VALID: "valid",
    common.EMAIL_STATUS_INVALID: "invalid",
    common.EMAIL_STATUS_RISKY: "risky",
    common.EMAIL_STATUS_CATCH_ALL: "catch-all",
    common.EMAIL_STATUS_DISPOSABLE: "disposable",
    common.EMAIL_STATUS_ROLE_BASED: "role-based",
    common.EMAIL_STATUS_UNKNOWN: "unknown",
}
ICP_TIER_NAMES: dict[int, str] = {
    common.ICP_TIER_HIGH_PRIORITY: "high_priority",
    common.ICP_TIER_NURTURE: "nurture",
    common.ICP_TIER_DEPRIORITIZE: "deprioritize",
}
INTENT_CATEGORY_NAMES: dict[int, str] = {
    common.INTENT_CATEGORY_HIRING: "hiring",
    common.INTENT_CATEGORY_TECHNOLOGY: "technology",
    common.INTENT_CATEGORY_ENGAGEMENT: "engagement",
}

V = TypeVar("V", bound=StrEnum)


def _numbers(vocabulary: type[StrEnum], proto: Any, prefix: str, strip: str = "") -> dict[StrEnum, int]:
    return {member: proto.Value(prefix + member.name.removeprefix(strip)) for member in vocabulary}


_TO_PROTO: dict[StrEnum, int] = {
    **_numbers(Seniority, common.Seniority, "SENIORITY_"),
    **_numbers(Department, common.Department, "DEPARTMENT_"),
    **_numbers(CompanySize, common.CompanySize, "COMPANY_SIZE_", "S_"),
    **_numbers(RevenueRange, common.RevenueRange, "REVENUE_RANGE_", "R_"),
}
_FROM_PROTO: dict[tuple[type[StrEnum], int], StrEnum] = {
    (type(member), number): member for member, number in _TO_PROTO.items()
}


def to_proto(member: StrEnum) -> int:
    """The proto enum number of a vocabulary member."""
    return _TO_PROTO[member]


def from_proto(vocabulary: type[V], number: int) -> V | None:
    """The member of ``vocabulary`` for a proto number; None for UNSPECIFIED or unknown numbers."""
    member = _FROM_PROTO.get((vocabulary, number))
    return member if isinstance(member, vocabulary) else None
