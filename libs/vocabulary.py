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

__all__ = ["CompanySize", "Department", "RevenueRange", "Seniority", "from_proto", "to_proto"]

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
