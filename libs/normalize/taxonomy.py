"""The closed vocabularies a normalised lead uses: seniority and department of a role, and the
size and revenue ranges of a company. The values are the public API's names."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CompanySize", "Department", "RevenueRange", "Seniority"]


class Seniority(StrEnum):
    """Where a role sits, lowest first; the values are the public API's."""

    ENTRY = "entry"
    SENIOR = "senior"
    MANAGER = "manager"
    DIRECTOR = "director"
    VP = "vp"
    PARTNER = "partner"
    C_LEVEL = "c_level"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        """Higher is more senior: entry 0 ... owner 7."""
        return _RANK[self]


_RANK = {level: position for position, level in enumerate(Seniority)}


class Department(StrEnum):
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


class CompanySize(StrEnum):
    """Employee-count ranges (the labels of ``firmographics.EMPLOYEE_RANGES``)."""

    S_1_10 = "1-10"
    S_11_50 = "11-50"
    S_51_200 = "51-200"
    S_201_500 = "201-500"
    S_501_1000 = "501-1000"
    S_1001_5000 = "1001-5000"
    S_5001_10000 = "5001-10000"
    S_10001_PLUS = "10001+"


class RevenueRange(StrEnum):
    """Annual revenue ranges (the labels of ``firmographics.REVENUE_RANGES``)."""

    R_0_1M = "$0-$1M"
    R_1M_10M = "$1M-$10M"
    R_10M_25M = "$10M-$25M"
    R_25M_50M = "$25M-$50M"
    R_50M_100M = "$50M-$100M"
    R_100M_250M = "$100M-$250M"
    R_250M_500M = "$250M-$500M"
    R_500M_1B = "$500M-$1B"
    R_1B_PLUS = "$1B+"
