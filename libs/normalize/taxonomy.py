"""The closed vocabularies a normalised lead uses: seniority and department of a role."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Department", "Seniority"]


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
