"""Validates a profile a caller sends and normalises it; every error names the offending field.

Normalised: free-text values trimmed with inner whitespace collapsed, keywords, technologies,
competitors and domains lower-cased, countries upper-cased, duplicates dropped (first kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from libs.errors import InvalidArgument
from services.scoring.domain.profile import Criterion, Exclusions, IcpProfile, Tiers

__all__ = [
    "MAX_INTENT_BOOST",
    "MAX_VALUES",
    "MAX_VALUE_LENGTH",
    "invalid",
    "validate_profile",
]

MAX_VALUES = 500
MAX_VALUE_LENGTH = 200
MAX_INTENT_BOOST = 30

T = TypeVar("T")

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
_SPACES = re.compile(r"\s+")
_ISO = "an ISO 3166-1 alpha-2 code"


def invalid(field: str, message: str, reason: str) -> InvalidArgument:
    """An INVALID_ARGUMENT naming ``field`` in its message and in its ``field`` metadata."""
    return InvalidArgument(f"{field}: {message}", reason=reason, metadata={"field": field})


def _text(value: str) -> str:
    return _SPACES.sub(" ", value).strip()


def _lower(value: str) -> str:
    return _text(value).lower()


def _upper(value: str) -> str:
    return _text(value).upper()


def _domain(value: str) -> str:
    text = _lower(value).removeprefix("@").removeprefix("www.")
    return text.rstrip(".")


def _distinct(values: Iterable[T], key: Callable[[T], object]) -> tuple[T, ...]:
    seen: set[object] = set()
    kept: list[T] = []
    for value in values:
        marker = key(value)
        if marker not in seen:
            seen.add(marker)
            kept.append(value)
    return tuple(kept)


def _texts(
    field: str,
    values: Iterable[str],
    normalise: Callable[[str], str],
    pattern: re.Pattern[str] | None = None,
    expected: str = "",
) -> tuple[str, ...]:
    values = list(values)
    if len(values) > MAX_VALUES:
        raise invalid(field, f"at most {MAX_VALUES} values, got {len(values)}", "ICP_INVALID_VALUE")
    cleaned: list[str] = []
    for index, raw in enumerate(values):
        value = normalise(raw)
        where = f"{field}[{index}]"
        if not value:
            raise invalid(where, "must not be empty", "ICP_INVALID_VALUE")
        if len(value) > MAX_VALUE_LENGTH:
            raise invalid(where, f"longer than {MAX_VALUE_LENGTH} characters", "ICP_INVALID_VALUE")
        if pattern is not None and not pattern.match(value):
            raise invalid(where, f"{raw!r} is not {expected}", "ICP_INVALID_VALUE")
        cleaned.append(value)
    return _distinct(cleaned, str.casefold)


def _range(field: str, value: int, low: int, high: int, reason: str) -> None:
    if not low <= value <= high:
        raise invalid(field, f"must be between {low} and {high}, got {value}", reason)


def _weight(name: str, criterion: Criterion[T], values: tuple[T, ...]) -> Criterion[T]:
    _range(f"{name}.weight", criterion.weight, 0, 100, "ICP_WEIGHT_OUT_OF_RANGE")
    if criterion.weight > 0 and not values:
        raise invalid(
            f"{name}.values",
            f"is empty but {name}.weight is {criterion.weight}; give values or weight 0",
            "ICP_CRITERION_EMPTY",
        )
    return Criterion(values, criterion.weight)


def _enums(name: str, criterion: Criterion[T]) -> Criterion[T]:
    if len(criterion.values) > MAX_VALUES:
        raise invalid(f"{name}.values", f"at most {MAX_VALUES} values", "ICP_INVALID_VALUE")
    return _weight(name, criterion, _distinct(criterion.values, lambda value: value))


def _words(
    name: str,
    criterion: Criterion[str],
    normalise: Callable[[str], str],
    pattern: re.Pattern[str] | None = None,
    expected: str = "",
) -> Criterion[str]:
    return _weight(name, criterion, _texts(f"{name}.values", criterion.values, normalise, pattern, expected))


def _exclusions(exclusions: Exclusions) -> Exclusions:
    _range("exclusions.penalty", exclusions.penalty, 0, 100, "ICP_OUT_OF_RANGE")
    if len(exclusions.seniorities) > MAX_VALUES:
        raise invalid("exclusions.seniorities", f"at most {MAX_VALUES} values", "ICP_INVALID_VALUE")
    return Exclusions(
        industries=_texts("exclusions.industries", exclusions.industries, _text),
        title_keywords=_texts("exclusions.title_keywords", exclusions.title_keywords, _lower),
        seniorities=_distinct(exclusions.seniorities, lambda value: value),
        company_domains=_texts(
            "exclusions.company_domains", exclusions.company_domains, _domain, _DOMAIN, "a domain name"
        ),
        countries=_texts("exclusions.countries", exclusions.countries, _upper, _COUNTRY, _ISO),
        penalty=exclusions.penalty,
    )


def _tiers(tiers: Tiers) -> Tiers:
    _range("tiers.high_priority", tiers.high_priority, 1, 100, "ICP_TIERS_INVALID")
    _range("tiers.nurture", tiers.nurture, 0, 99, "ICP_TIERS_INVALID")
    if tiers.nurture >= tiers.high_priority:
        raise invalid(
            "tiers.nurture",
            f"must be below tiers.high_priority ({tiers.high_priority}), got {tiers.nurture}",
            "ICP_TIERS_INVALID",
        )
    return tiers


def validate_profile(profile: IcpProfile) -> IcpProfile:
    """The profile, normalised; ``InvalidArgument`` naming the first field that is wrong."""
    validated = IcpProfile(
        seniorities=_enums("seniorities", profile.seniorities),
        departments=_enums("departments", profile.departments),
        title_keywords=_words("title_keywords", profile.title_keywords, _lower),
        company_sizes=_enums("company_sizes", profile.company_sizes),
        industries=_words("industries", profile.industries, _text),
        revenues=_enums("revenues", profile.revenues),
        countries=_words("countries", profile.countries, _upper, _COUNTRY, _ISO),
        technologies=_words("technologies", profile.technologies, _lower),
        competitors=_texts("competitors", profile.competitors, _lower),
        exclusions=_exclusions(profile.exclusions),
        tiers=_tiers(profile.tiers),
        intent_boost_max=profile.intent_boost_max,
    )
    if validated.total_weight == 0:
        raise invalid(
            "weights",
            "at least one criterion needs values and a positive weight",
            "ICP_NO_WEIGHTED_CRITERIA",
        )
    _range("intent_boost_max", profile.intent_boost_max, 0, MAX_INTENT_BOOST, "ICP_OUT_OF_RANGE")
    return validated
