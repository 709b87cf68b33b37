"""The waterfall: ask providers in order, each only for what is still missing, and merge.

For a batch of leads, every provider step asks one ``lookup`` for all the leads that still need
something it can give (so each provider sees batches), after the cache has answered what it
can. A match below the confidence threshold, or one that contradicts what we know, is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from libs.mongo import utc_now
from services.providers.domain.fields import learn
from services.providers.domain.identity import agreement
from services.providers.domain.models import (
    GROUP_FIELDS,
    Attempt,
    FieldGroup,
    FieldSource,
    Lead,
    LookupResult,
    Outcome,
    ProviderFailure,
    ProviderMatch,
    Record,
    Wanted,
)
from services.providers.domain.ports import Answer, CachedAnswer, LookupCache, Provider

__all__ = ["DEFAULT_GROUPS", "LookupRequest", "Waterfall", "WaterfallPolicy"]

log = logging.getLogger(__name__)

DEFAULT_GROUPS = frozenset({FieldGroup.PERSON, FieldGroup.COMPANY, FieldGroup.EMAIL})


@dataclass(frozen=True)
class WaterfallPolicy:
    # A match (and a field) counts only at or above this confidence.
    threshold: float = 0.8
    # Each provider that failed for a lead multiplies its record confidence by this.
    failure_penalty: float = 0.9


@dataclass(frozen=True)
class LookupRequest:
    groups: frozenset[FieldGroup] = DEFAULT_GROUPS
    refresh: bool = False
    max_contacts: int = 5
    # time.monotonic() by which every answer is due; None for no deadline.
    deadline: float | None = None


@dataclass
class _State:
    lead: Lead
    original: Lead
    groups: frozenset[FieldGroup]
    wants_contacts: bool
    # original.company_only
    company_only: bool
    person: Record = field(default_factory=Record)
    company: Record = field(default_factory=Record)
    contacts: list[Record] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    matched: int = 0
    failures: int = 0

    def _record(self, scope: str) -> Record:
        return self.person if scope == "person" else self.company

    def missing(self, threshold: float) -> set[FieldGroup]:
        missing = set()
        for group in self.groups:
            for scope, name in GROUP_FIELDS[group]:
                source = self._record(scope).sources.get(name)
                if source is None or source.confidence < threshold:
                    missing.add(group)
                    break
        return missing

    def needs(self, provider: Provider, threshold: float) -> bool:
        if not provider.accepts(self.lead):
            return False
        if self.wants_contacts and not self.contacts and provider.provides_contacts:
            return True
        return bool(self.missing(threshold) & provider.provides)

    def group_confidence(self, group: FieldGroup) -> float:
        required = GROUP_FIELDS[group]
        total = 0.0
        for scope, name in required:
            total += self._record(scope).confidence(name)
        return total / len(required)


def _merge(
    record: Record,
    values_in: dict[str, object],
    match: ProviderMatch,
    scope: str,
    provider: str,
    confidence: float,
    threshold: float,
) -> None:
    observed = match.observed_at or utc_now()
    overrides = match.field_confidence
    shared = FieldSource(provider, round(confidence, 4), observed)
    values, sources = record.values, record.sources
    if not overrides:
        if shared.confidence < threshold:
            return
        for name, value in values_in.items():
            if not value and (value is None or value == "" or value == [] or value == ()):
                continue
            current = sources.get(name)
            if current is None or current.confidence < threshold:
                values[name] = value
                sources[name] = shared
        return
    for name, value in values_in.items():
        if not value and (value is None or value == "" or value == [] or value == ()):
            continue
        source = shared
        override = overrides.get(f"{scope}.{name}")
        if override is not None and override < confidence:
            source = FieldSource(provider, round(override, 4), observed)
        if source.confidence < threshold:
            continue
        current = sources.get(name)
        if current is None or current.confidence < threshold:
            values[name] = value
            sources[name] = source


class Waterfall:
    def __init__(self, cache: LookupCache | None, policy: WaterfallPolicy):
        self.cache = cache
        self.policy = policy

    async def run(
        self, leads: Sequence[Lead], plan: Sequence[Provider], request: LookupRequest
    ) -> list[LookupResult]:
        states = []
        company_groups = frozenset({FieldGroup.COMPANY})
        wants_people = request.max_contacts > 0 and bool(
            request.groups & {FieldGroup.PERSON, FieldGroup.EMAIL}
        )
        for lead in leads:
            company_only = lead.company_only
            groups = company_groups if company_only else request.groups
            states.append(_State(lead, lead, groups, company_only and wants_people, company_only))
        for position, provider in enumerate(plan):
            todo = [s for s in states if s.lead.identifiable and s.needs(provider, self.policy.threshold)]
            asked = {id(s) for s in todo}
            skipped = Attempt(provider.name, Outcome.SKIPPED)
            for state in states:
                if id(state) not in asked:
                    state.attempts.append(skipped)
            if todo:
                await self._step(provider, todo, request, last=position == len(plan) - 1)
        return [self._result(state) for state in states]

    async def _step(
        self, provider: Provider, states: list[_State], request: LookupRequest, last: bool
    ) -> None:
        """One provider for the leads that need it: cached answers first, then one batch call
        for the rest, with leads asking the same question asked once."""
        keys = [provider.cache_key(s.lead) for s in states]
        by_key: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            by_key.setdefault(key, []).append(index)
        cacheable = self.cache is not None and provider.cache_ttl > 0
        started = time.monotonic()
        cached: dict[str, CachedAnswer] = {}
        if cacheable and not request.refresh:
            cached = await self._cached(provider, list(by_key))
        cache_time = time.monotonic() - started
        ask = [key for key in by_key if key not in cached]
        fresh: dict[str, Answer] = {}
        if ask:
            answers = await self._ask(provider, [states[by_key[key][0]].lead for key in ask], request)
            fresh = dict(zip(ask, answers, strict=True))
            if cacheable:
                await self._store(
                    provider, {k: a for k, a in fresh.items() if not isinstance(a, ProviderFailure)}
                )
        duration = time.monotonic() - started
        shared: dict[tuple[int, float], list[Record]] = {}
        for state, key in zip(states, keys, strict=True):
            hit = cached.get(key)
            if hit is not None:
                self._apply(state, provider, hit.match, True, cache_time, request, shared, last)
            else:
                self._apply(state, provider, fresh[key], False, duration, request, shared, last)

    async def _cached(self, provider: Provider, keys: list[str]) -> dict[str, CachedAnswer]:
        """Fresh cached answers; a cache that cannot be read is a cache that has nothing."""
        if self.cache is None:
            return {}
        try:
            return await self.cache.get_many(provider.name, keys)
        except Exception:
            log.warning("lookup cache read failed", exc_info=True, extra={"provider": provider.name})
            return {}

    async def _ask(self, provider: Provider, leads: list[Lead], request: LookupRequest) -> list[Answer]:
        budget = provider.timeout
        if request.deadline is not None:
            # Providers bound their own calls by the deadline; this only catches one that does not.
            budget = min(budget, request.deadline - time.monotonic() + 0.25)
        if budget <= 0:
            return [ProviderFailure("DEADLINE_EXCEEDED", timeout=True)] * len(leads)
        try:
            async with asyncio.timeout(budget):
                answers = await provider.lookup(
                    leads, Wanted(request.groups, request.max_contacts, request.deadline)
                )
        except TimeoutError:
            return [ProviderFailure("TIMEOUT", timeout=True)] * len(leads)
        except Exception:
            log.exception("provider failed", extra={"provider": provider.name, "leads": len(leads)})
            return [ProviderFailure("PROVIDER_ERROR")] * len(leads)
        if len(answers) != len(leads):
            log.error(
                "provider answered %d of %d leads",
                len(answers),
                len(leads),
                extra={"provider": provider.name},
            )
            return [ProviderFailure("PROVIDER_ERROR")] * len(leads)
        return answers

    async def _store(self, provider: Provider, answers: dict[str, ProviderMatch | None]) -> None:
        if not answers or self.cache is None:
            return
        try:
            await self.cache.put_many(provider.name, list(answers.items()), provider.cache_ttl)
        except Exception:
            log.warning("lookup cache write failed", exc_info=True, extra={"provider": provider.name})

    def _apply(
        self,
        state: _State,
        provider: Provider,
        answer: Answer,
        from_cache: bool,
        duration: float,
        request: LookupRequest,
        shared: dict[tuple[int, float], list[Record]],
        last: bool,
    ) -> None:
        """Records one provider's answer for one lead. Contact records made from one answer are
        shared by every lead of that company (they are never changed afterwards)."""
        name = provider.name
        if isinstance(answer, ProviderFailure):
            outcome = (
                Outcome.TIMEOUT
                if answer.timeout
                else Outcome.CIRCUIT_OPEN
                if answer.circuit_open
                else Outcome.ERROR
            )
            state.failures += 1
            state.attempts.append(Attempt(name, outcome, duration, answer.reason))
            return
        if answer is None:
            reason = "NO_MATCH" if from_cache else ""
            state.attempts.append(
                Attempt(name, Outcome.CACHED if from_cache else Outcome.NO_MATCH, duration, reason)
            )
            return
        factor = agreement(state.original, state.person, state.company, answer)
        confidence = answer.confidence * factor
        if confidence < self.policy.threshold:
            reason = "IDENTITY_MISMATCH" if factor < 1.0 else "BELOW_THRESHOLD"
            state.attempts.append(Attempt(name, Outcome.LOW_CONFIDENCE, duration, reason))
            return
        threshold = self.policy.threshold
        if not state.company_only:
            _merge(state.person, answer.person, answer, "person", name, confidence, threshold)
        _merge(state.company, answer.company, answer, "company", name, confidence, threshold)
        if state.wants_contacts and not state.contacts and answer.contacts:
            key = (id(answer.contacts), confidence)
            if key not in shared:
                shared[key] = self._contacts(answer, name, confidence, request.max_contacts)
            state.contacts = shared[key]
        state.matched += 1
        if not last:
            state.lead = learn(state.lead, answer.person, answer.company)
        state.attempts.append(Attempt(name, Outcome.CACHED if from_cache else Outcome.MATCHED, duration))

    def _contacts(self, answer: ProviderMatch, provider: str, confidence: float, limit: int) -> list[Record]:
        records = []
        for contact in answer.contacts[:limit]:
            record = Record()
            own = float(contact.get("confidence", confidence))
            values = {k: v for k, v in contact.items() if k != "confidence"}
            _merge(record, values, answer, "contact", provider, min(confidence, own), self.policy.threshold)
            if record:
                records.append(record)
        return records

    def _result(self, state: _State) -> LookupResult:
        """Found when the lead's person (its company, for a company lead) was matched; a company
        found for a person lead is still returned, as not found."""
        queried = sum(1 for a in state.attempts if a.outcome is not Outcome.SKIPPED)
        found = bool(state.company if state.company_only else state.person)
        if not found:
            person = Record()
            return LookupResult(False, person, state.company, [], queried, state.matched, 0.0, state.attempts)
        confidence = sum(state.group_confidence(g) for g in state.groups) / len(state.groups)
        confidence *= self.policy.failure_penalty**state.failures
        return LookupResult(
            True,
            state.person,
            state.company,
            state.contacts,
            queried,
            state.matched,
            round(confidence, 4),
            state.attempts,
        )
