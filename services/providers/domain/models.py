"""What a lookup works with: the normalised lead, what a provider answers, what we return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "COMPANY_FIELDS",
    "GROUP_FIELDS",
    "PERSON_FIELDS",
    "Attempt",
    "FieldGroup",
    "FieldSource",
    "Lead",
    "LookupResult",
    "Outcome",
    "ProviderFailure",
    "ProviderMatch",
    "Record",
    "Wanted",
]

Fields = dict[str, Any]

PERSON_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "title",
    "raw_title",
    "seniority",
    "department",
    "phone",
    "linkedin_url",
    "country",
    "city",
)
COMPANY_FIELDS = (
    "name",
    "domain",
    "size",
    "employee_count",
    "industry",
    "revenue",
    "country",
    "technologies",
    "linkedin_url",
    "phone",
)


class FieldGroup(StrEnum):
    PERSON = "person"
    COMPANY = "company"
    EMAIL = "email"
    PHONE = "phone"
    LINKEDIN = "linkedin"


# The fields that must be filled, at the threshold confidence, for a group to be complete:
# ("person" | "company", field name).
GROUP_FIELDS: dict[FieldGroup, tuple[tuple[str, str], ...]] = {
    FieldGroup.PERSON: (("person", "first_name"), ("person", "last_name"), ("person", "title")),
    FieldGroup.COMPANY: (
        ("company", "name"),
        ("company", "domain"),
        ("company", "industry"),
        ("company", "size"),
    ),
    FieldGroup.EMAIL: (("person", "email"),),
    FieldGroup.PHONE: (("person", "phone"),),
    FieldGroup.LINKEDIN: (("person", "linkedin_url"),),
}


@dataclass(frozen=True, slots=True)
class Lead:
    """A raw lead after normalisation. Empty strings are unknown."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    # "michael chen": the matching key of the name (libs.normalize.person_name_key).
    name_key: str = ""
    company_name: str = ""
    # "acme": the matching key of the company name (libs.normalize.company_key).
    company_key: str = ""
    company_domain: str = ""
    linkedin_url: str = ""

    @property
    def has_person(self) -> bool:
        """Enough to identify one person."""
        return bool(
            self.email or self.linkedin_url or (self.name_key and (self.company_domain or self.company_key))
        )

    @property
    def has_company(self) -> bool:
        return bool(self.company_domain or self.company_key)

    @property
    def company_only(self) -> bool:
        """A company lead: the answer is the company and its best contacts."""
        return not self.has_person and self.has_company

    @property
    def identifiable(self) -> bool:
        return self.has_person or self.has_company


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a provider is asked for: the field groups, and for company leads how many contacts."""

    groups: frozenset[FieldGroup]
    max_contacts: int = 5
    # time.monotonic() by which answers are due (a remote call never outlives the caller).
    deadline: float | None = None


@dataclass(frozen=True, slots=True)
class ProviderMatch:
    """One provider's answer for one lead: normalised person and company fields.

    ``confidence`` is how sure the provider is that this is the lead's person (or company);
    ``field_confidence`` lowers it for single fields ("person.email": 0.72 for a guessed email).
    """

    confidence: float
    person: Fields = field(default_factory=dict)
    company: Fields = field(default_factory=dict)
    field_confidence: dict[str, float] = field(default_factory=dict)
    contacts: tuple[Fields, ...] = ()
    observed_at: datetime | None = None

    def confidence_of(self, scope: str, name: str) -> float:
        return min(self.confidence, self.field_confidence.get(f"{scope}.{name}", 1.0))

    def to_document(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "person": self.person,
            "company": self.company,
            "field_confidence": self.field_confidence,
            "contacts": list(self.contacts),
            "observed_at": self.observed_at,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any], observed_at: datetime | None) -> ProviderMatch:
        return cls(
            confidence=float(doc["confidence"]),
            person=dict(doc.get("person") or {}),
            company=dict(doc.get("company") or {}),
            field_confidence={k: float(v) for k, v in (doc.get("field_confidence") or {}).items()},
            contacts=tuple(dict(c) for c in doc.get("contacts") or ()),
            observed_at=observed_at,
        )


@dataclass(frozen=True, slots=True)
class ProviderFailure:
    """A provider could not answer for a lead. ``reason`` is stable (HTTP_500, RATE_LIMITED)."""

    reason: str
    timeout: bool = False
    circuit_open: bool = False


class Outcome(StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no_match"
    LOW_CONFIDENCE = "low_confidence"
    ERROR = "error"
    TIMEOUT = "timeout"
    CIRCUIT_OPEN = "circuit_open"
    CACHED = "cached"
    SKIPPED = "skipped"

    @property
    def failed(self) -> bool:
        return self in (Outcome.ERROR, Outcome.TIMEOUT, Outcome.CIRCUIT_OPEN)


@dataclass(frozen=True, slots=True)
class Attempt:
    provider: str
    outcome: Outcome
    duration: float = 0.0
    reason: str = ""


class FieldSource(NamedTuple):
    """Where a value came from; one is shared by every field a match filled."""

    provider: str
    confidence: float
    observed_at: datetime


@dataclass
class Record:
    """A merged person or company: each field's value and its source."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, FieldSource] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values)

    def value(self, name: str) -> Any:
        return self.values.get(name)

    def confidence(self, name: str) -> float:
        """0.0 for a field that is not there."""
        source = self.sources.get(name)
        return 0.0 if source is None else source.confidence

    def set(self, name: str, value: Any, source: FieldSource) -> None:
        self.values[name] = value
        self.sources[name] = source


@dataclass
class LookupResult:
    found: bool
    person: Record
    company: Record
    contacts: list[Record]
    providers_queried: int
    providers_matched: int
    confidence: float
    attempts: list[Attempt]
    # Not found because the person (or, for this account, the company) is suppressed.
    suppressed: bool = False

    @classmethod
    def suppressed_result(cls) -> LookupResult:
        return cls(False, Record(), Record(), [], 0, 0, 0.0, [], suppressed=True)
