"""The closed vocabularies an ICP is written in, by their public (REST) names (shared with the
normaliser), and the size range of a headcount."""

from __future__ import annotations

from libs.normalize.firmographics import employee_range
from libs.normalize.taxonomy import CompanySize, Department, RevenueRange, Seniority

__all__ = ["CompanySize", "Department", "RevenueRange", "Seniority", "size_of_headcount"]


def size_of_headcount(employees: int) -> CompanySize | None:
    """The size range of a known headcount; None when it is unknown (0 or less)."""
    label = employee_range(employees) if employees > 0 else None
    return CompanySize(label) if label else None
