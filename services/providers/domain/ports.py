"""The interfaces the waterfall works through: a data provider and the lookup cache."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.providers.domain.models import FieldGroup, Lead, ProviderFailure, ProviderMatch, Wanted

__all__ = ["Answer", "CachedAnswer", "LookupCache", "Provider"]

# A provider's answer for one lead: a match, no match (None) or a failure.
Answer = ProviderMatch | ProviderFailure | None


class Provider(Protocol):
    """A source of people and companies. ``lookup`` answers a batch, one answer per lead and in
    order; a failure for one lead is an answer, not an exception."""

    @property
    def name(self) -> str: ...

    @property
    def cost(self) -> float:
        """What one call costs (for the default cheapest-first order)."""
        ...

    @property
    def provides(self) -> frozenset[FieldGroup]: ...

    @property
    def provides_contacts(self) -> bool:
        """Whether it can list a company's people."""
        ...

    @property
    def cache_ttl(self) -> float:
        """Seconds an answer stays fresh in the lookup cache; 0 turns caching off."""
        ...

    @property
    def timeout(self) -> float:
        """Seconds one batch may take before its unanswered leads time out."""
        ...

    def accepts(self, lead: Lead) -> bool:
        """Whether the lead has what this provider needs to look it up."""
        ...

    def cache_key(self, lead: Lead) -> str:
        """The identity of the question asked for ``lead`` (equal keys, equal answers)."""
        ...

    async def lookup(self, leads: Sequence[Lead], wanted: Wanted) -> list[Answer]: ...


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    match: ProviderMatch | None
    stored_at: datetime


class LookupCache(Protocol):
    async def get_many(self, provider: str, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        """The fresh answers stored for ``keys``."""
        ...

    async def put_many(
        self, provider: str, answers: Sequence[tuple[str, ProviderMatch | None]], ttl: float
    ) -> None: ...
