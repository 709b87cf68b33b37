"""What every HTTP provider shares: identity and cost from its configuration, a batch answered
by concurrent calls (each one guarded by the provider's HttpCaller), failures as answers."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from libs.mongo import utc_now
from services.providers.adapters.http import CallFailed, HttpCaller
from services.providers.domain.models import FieldGroup, Lead, ProviderFailure, ProviderMatch, Wanted
from services.providers.domain.ports import Answer

__all__ = ["RemoteProvider", "dig"]

log = logging.getLogger(__name__)


def dig(value: Any, path: str) -> Any:
    """``dig(body, "data.job.title")``; list items by index ("emails.0.address"); None when absent."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


class RemoteProvider(ABC):
    """Base of the HTTP adapters: ``answer`` one lead, the batch is gathered concurrently (the
    caller's semaphore bounds how many calls are in flight)."""

    provides: frozenset[FieldGroup] = frozenset()
    provides_contacts = False

    def __init__(self, name: str, cost: float, cache_ttl: float, batch_timeout: float, caller: HttpCaller):
        self.name = name
        self.cost = cost
        self.cache_ttl = cache_ttl
        self.timeout = batch_timeout
        self.caller = caller

    @abstractmethod
    def accepts(self, lead: Lead) -> bool:
        """Whether the lead has what this provider needs to look it up."""

    @abstractmethod
    def cache_key(self, lead: Lead) -> str:
        """The identity of the question asked for ``lead``."""

    @abstractmethod
    async def answer(self, lead: Lead, wanted: Wanted) -> Answer:
        """One lead's answer; raises CallFailed when the provider could not give one."""

    async def lookup(self, leads: Sequence[Lead], wanted: Wanted) -> list[Answer]:
        return list(await asyncio.gather(*(self._guarded(lead, wanted) for lead in leads)))

    async def _guarded(self, lead: Lead, wanted: Wanted) -> Answer:
        try:
            answer = await self.answer(lead, wanted)
        except CallFailed as failure:
            return ProviderFailure(failure.reason, timeout=failure.timeout, circuit_open=failure.circuit_open)
        except (KeyError, TypeError, ValueError, AttributeError):
            log.info("unexpected answer shape", extra={"provider": self.name}, exc_info=True)
            return ProviderFailure("MALFORMED_RESPONSE")
        if isinstance(answer, ProviderMatch) and answer.observed_at is None:
            answer = replace(answer, observed_at=utc_now())
        return answer
