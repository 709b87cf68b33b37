"""The closed vocabularies an ICP is written in, by their public (REST) names."""

from __future__ import annotations

import enum

__all__ = ["CompanySize", "Department", "RevenueRange", "Seniority", "size_of_headcount"]


class Seniority(enum.StrEnum):
    ENTRY = "entry"
    SENIOR = "senior"
    MANAGER = "manager"
    DIRECTOR = "director"
    VP = "vp"
    C_LEVEL = "c_level"
    OWNER = "owner"
    PARTNER = "partner"


class Department(enum.StrEnum):
    SALES = "sales"
    MARKETING = "marketing"
    REVENUE_OPERATIONS = "revenue_operations"
    ENGINEERING = "engineering"
    PRODUCT = "product"
    FINANCE = "finance"
    HR = "hr"
    OPERATIONS = "operations"
    IT = "it"
    LEGAL = "legal"
    CUSTOMER_SUCCESS = "customer_success"
    EXECUTIVE = "executive"


class CompanySize(enum.StrEnum):
    """Employee-count ranges."""

    S_1_10 = "1-10"
    S_11_50 = "11-50"
    S_51_200 = "51-200"
    S_201_500 = "201-500"
    S_501_1000 = "501-1000"
    S_1001_5000 = "1001-5000"
    S_5001_10000 = "5001-10000"
    S_10001_PLUS = "10001+"


class RevenueRange(enum.StrEnum):
    """Annual revenue ranges."""

    R_0_1M = "$0-$1M"
    R_1M_10M = "$1M-$10M"
    R_10M_25M = "$10M-$25M"
    R_25M_50M = "$25M-$50M"
    R_50M_100M = "$50M-$100M"
    R_100M_250M = "$100M-$250M"
    R_250M_500M = "$250M-$500M"
    R_500M_1B = "$500M-$1B"
    R_1B_PLUS = "$1B+"


# Upper bound (inclusive) of each size range but the last.
_SIZE_BOUNDS = (
    (10, CompanySize.S_1_10),
    (50, CompanySize.S_11_50),
    (200, CompanySize.S_51_200),
    (500, CompanySize.S_201_500),
    (1000, CompanySize.S_501_1000),
    (5000, CompanySize.S_1001_5000),
    (10000, CompanySize.S_5001_10000),
)


def size_of_headcount(employees: int) -> CompanySize | None:
    """The size range of a known headcount; None when it is unknown (0 or less)."""
    if employees <= 0:
        return None
    for bound, size in _SIZE_BOUNDS:
        if employees <= bound:
            return size
    return CompanySize.S_10001_PLUS
