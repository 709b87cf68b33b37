"""Every public vocabulary member has its own proto value, and back."""

from __future__ import annotations

from enum import StrEnum

import pytest

from leadmesh.common.v1 import common_pb2 as common
from libs.vocabulary import CompanySize, Department, RevenueRange, Seniority, from_proto, to_proto


@pytest.mark.parametrize("vocabulary", [Seniority, Department, CompanySize, RevenueRange])
def test_members_round_trip_through_their_proto_numbers(vocabulary: type[StrEnum]) -> None:
    numbers = [to_proto(member) for member in vocabulary]
    assert len(set(numbers)) == len(numbers) and 0 not in numbers
    assert [from_proto(vocabulary, number) for number in numbers] == list(vocabulary)
    assert from_proto(vocabulary, 0) is None


def test_members_and_proto_values_correspond_by_name() -> None:
    assert to_proto(Seniority.C_LEVEL) == common.SENIORITY_C_LEVEL
    assert to_proto(CompanySize("51-200")) == common.COMPANY_SIZE_51_200
    assert to_proto(RevenueRange("$10M-$25M")) == common.REVENUE_RANGE_10M_25M
    assert from_proto(Department, common.DEPARTMENT_REVENUE_OPERATIONS) == "revenue_operations"
