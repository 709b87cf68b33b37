"""Answers of the API: dicts whose keys are also attributes.

``result["lead"]["title"]`` (the seed's way) and ``result.lead.title`` both work, every field of
the JSON is kept (one this version does not know too: a newer server must not break an older
client), and an answer is still a ``dict`` (``json.dumps`` it, compare it, iterate it).

A key wins over a dict method of the same name: ``criterion.values`` is the criterion's list of
values, not ``dict.values`` (``dict.values(criterion)`` still is). The classes below only name
the fields they are sure of, for type checkers and editors; the answer holds whatever came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "Answer",
    "CsvRowResult",
    "Credits",
    "EnrichmentResult",
    "IcpProfile",
    "Job",
    "Lead",
    "LedgerEntry",
    "SignalsResult",
    "WebhookSecret",
]


class Answer(dict[str, Any]):
    # Keys whose values (or list items) are answers of a more precise class.
    _nested: ClassVar[Mapping[str, type[Answer]]] = {}

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        for key, value in (data or {}).items():
            self[key] = _wrap(value, self._nested.get(key, Answer))

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        return super().__getattribute__(name)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"this {type(self).__name__} has no field {name!r}; it has {sorted(self)}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(key for key in self if key.isidentifier())})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


def _wrap(value: Any, kind: type[Answer]) -> Any:
    if isinstance(value, Mapping):
        return kind(value)
    if isinstance(value, list):
        return [_wrap(item, kind) for item in value]
    return value


class Lead(Answer):
    email: str | None
    email_status: str | None
    first_name: str | None
    last_name: str | None
    title: str | None
    seniority: str | None
    company_name: str | None
    company_domain: str | None
    company_size: str | None
    company_industry: str | None
    company_revenue: str | None
    phone: str | None
    linkedin_url: str | None
    icp_score: int | None
    icp_tier: str | None
    icp_signals: list[str]
    intent_signals: list[str]


class EnrichmentMeta(Answer):
    credits_used: int
    providers_queried: int
    providers_matched: int
    confidence: float
    demo: bool


class EnrichmentResult(Answer):
    """POST /v1/enrich/lead, GET /v1/enrichments/{id}."""

    _nested = {"lead": Lead, "contacts": Lead, "meta": EnrichmentMeta}
    id: str
    status: str
    lead: Lead
    contacts: list[Lead] | None
    meta: EnrichmentMeta


class CsvRowResult(Answer):
    """POST /v1/enrich/csv_row."""

    id: str
    status: str
    csv_row: Answer
    meta: Answer


class Job(Answer):
    """A CSV job (GET /v1/jobs/{id})."""

    id: str
    status: str
    file_name: str | None
    total_rows: int
    counts: Answer
    progress: float
    credits_used: int

    @property
    def done_rows(self) -> int:
        """Rows that have an outcome (every count but ``pending``)."""
        counts = self.get("counts") or {}
        return sum(int(value) for key, value in counts.items() if key != "pending")

    @property
    def finished(self) -> bool:
        return self.get("status") in {"succeeded", "failed", "cancelled"}


class LedgerEntry(Answer):
    id: str
    type: str
    amount: int
    balance_after: int
    description: str
    idempotency_key: str
    created_at: str


class Credits(Answer):
    """GET /v1/credits (its first page of the ledger; ``client.credits.ledger()`` walks them all)."""

    _nested = {"ledger": LedgerEntry}
    balance: int
    reserved: int
    free_tier: Answer
    ledger: list[LedgerEntry]
    next_page_token: str | None


class IcpProfile(Answer):
    version: int
    is_default: bool
    created_at: str
    tiers: Answer
    intent_boost_max: int


class SignalsResult(Answer):
    accepted: int
    rejected: list[Answer]


class WebhookSecret(Answer):
    secret: str
    header: str
    scheme: str
