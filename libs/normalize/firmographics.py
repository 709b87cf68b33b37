"""Company size and revenue written as the public ranges (``51-200``, ``$10M-$25M``)."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "EMPLOYEE_RANGES",
    "REVENUE_RANGES",
    "employee_range",
    "parse_employee_count",
    "parse_revenue",
    "revenue_range",
]

# (label, lowest, highest) with inclusive integer bounds.
EMPLOYEE_RANGES: tuple[tuple[str, int, int | None], ...] = (
    ("1-10", 1, 10),
    ("11-50", 11, 50),
    ("51-200", 51, 200),
    ("201-500", 201, 500),
    ("501-1000", 501, 1000),
    ("1001-5000", 1001, 5000),
    ("5001-10000", 5001, 10000),
    ("10001+", 10001, None),
)

_M = 1_000_000
# (label, lowest, below) in US dollars: lowest <= revenue < below.
REVENUE_RANGES: tuple[tuple[str, float, float | None], ...] = (
    ("$0-$1M", 0, 1 * _M),
    ("$1M-$10M", 1 * _M, 10 * _M),
    ("$10M-$25M", 10 * _M, 25 * _M),
    ("$25M-$50M", 25 * _M, 50 * _M),
    ("$50M-$100M", 50 * _M, 100 * _M),
    ("$100M-$250M", 100 * _M, 250 * _M),
    ("$250M-$500M", 250 * _M, 500 * _M),
    ("$500M-$1B", 500 * _M, 1000 * _M),
    ("$1B+", 1000 * _M, None),
)

_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)\s*(thousand|million|mil|mm|billion|bn|trillion|[kmbt])?\b")
_SCALE = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "mil": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "t": 1e12,
    "trillion": 1e12,
}


def employee_range(count: int) -> str | None:
    """The range of a head count (``120`` -> ``51-200``); None below one employee."""
    for label, lowest, highest in EMPLOYEE_RANGES:
        if count >= lowest and (highest is None or count <= highest):
            return label
    return None


def revenue_range(amount: float) -> str | None:
    """The range of an annual revenue in US dollars (``12_500_000`` -> ``$10M-$25M``)."""
    if amount < 0:
        return None
    for label, lowest, below in REVENUE_RANGES:
        if amount >= lowest and (below is None or amount < below):
            return label
    return None


def _amounts(text: str) -> list[tuple[float, bool]]:
    """The numbers in ``text`` scaled by their unit, and whether a unit was written."""
    values: list[tuple[float, bool]] = []
    matches = list(_NUMBER.finditer(text.lower()))
    units = [m.group(2) for m in matches]
    for index, match in enumerate(matches):
        digits = match.group(1)
        # "1,000" is a thousand; "1.5" is one and a half; "1.000.000" is a million.
        if "," in digits and not re.search(r",\d{1,2}$", digits):
            digits = digits.replace(",", "")
        elif digits.count(".") > 1:
            digits = digits.replace(".", "")
        digits = digits.replace(",", ".")
        # "10-25M": a unit written once applies to both ends.
        unit = units[index] or next((u for u in units[index + 1 :] if u), None)
        values.append((float(digits) * (_SCALE[unit] if unit else 1.0), unit is not None))
    return values


@lru_cache(maxsize=4096)
def parse_employee_count(text: str) -> tuple[str | None, int | None]:
    """``(range, exact count or None)`` from what sources write: ``"250"``, ``"51-200"``,
    ``"51 to 200 employees"``, ``"1,001-5,000"``, ``"10k+"``, ``"10001+"``. A span is placed by
    its midpoint, so a source's own ranges land on ours."""
    values = [int(value) for value, _ in _amounts(text)]
    if not values:
        return None, None
    if len(values) > 1:
        return employee_range((values[0] + values[1]) // 2), None
    count = values[0]
    lowered = text.lower()
    if "+" in text or "more than" in lowered or "over" in lowered:
        bounds = {high for _, _, high in EMPLOYEE_RANGES if high is not None}
        return employee_range(count + 1 if count in bounds else count), None
    label = employee_range(count)
    return label, count if label is not None else None


@lru_cache(maxsize=4096)
def parse_revenue(text: str) -> str | None:
    """The revenue range of ``"$12.5M"``, ``"12,500,000"``, ``"$10M-$25M"``, ``"1.2 billion"``,
    ``"$1B+"``. A bare number below 10,000 is read as millions (``"45"`` in a revenue column
    means $45M); a span is placed by its midpoint."""
    cleaned = re.sub(r"\$|usd", "", text.lower())
    values = [value * _M if not unit and value < 10_000 else value for value, unit in _amounts(cleaned)]
    if not values:
        return None
    if len(values) == 1:
        return revenue_range(values[0])
    return revenue_range((values[0] + values[1]) / 2)
