"""The providers service's use cases: Lookup / LookupBatch through the waterfall, FindContacts
from the directory. Plain Python over the waterfall, the providers and the repository; the
servicer only translates protos to these calls and back.

Each lead a provider was asked about (or answered from the cache) counts once in
``leadmesh.providers.lookups`` by provider and outcome (matched, cached, no_match,
low_confidence, error, timeout, circuit_open): a provider's hit rate is its matched and cached
lookups over all of its lookups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from libs.errors import InvalidArgument, NotFound
from libs.ids import decode_page_token, encode_page_token, page_size
from libs.mongo import Document, as_datetime, utc_now
from libs.normalize import clean_company_name, company_key, normalize_domain
from libs.telemetry import meter
from services.providers.adapters.directory import MatchConfidence
from services.providers.domain.models import (
    COMPANY_FIELDS,
    PERSON_FIELDS,
    FieldSource,
    Lead,
    LookupResult,
    Outcome,
    Record,
)
from services.providers.domain.ports import Provider
from services.providers.domain.waterfall import LookupRequest, Waterfall
from services.providers.repository import DirectoryReads
from services.providers.suppressions import SuppressionList

__all__ = ["ContactsPage", "ProviderLookup", "default_order"]

DIRECTORY = "directory"

_LOOKUPS = meter("leadmesh.providers").create_counter(
    "leadmesh.providers.lookups",
    unit="{lookup}",
    description="Leads a provider was asked about or answered from the cache, by provider and outcome",
)


def default_order(providers: Sequence[Provider], configured: Sequence[str]) -> list[str]:
    """The configured order (providers it leaves out run only when an account or a call names
    them), else every provider cheapest first; the directory always leads."""
    names = [p.name for p in providers]
    unknown = [name for name in configured if name not in names]
    if unknown:
        raise ValueError(f"provider_order names unknown providers: {', '.join(unknown)}")
    order = list(dict.fromkeys(configured)) or [p.name for p in sorted(providers, key=lambda p: p.cost)]
    if DIRECTORY in names and DIRECTORY in order:
        order.remove(DIRECTORY)
    return [DIRECTORY, *order] if DIRECTORY in names else order


def _count_lookups(results: Sequence[LookupResult]) -> None:
    counted = Counter(
        (attempt.provider, attempt.outcome)
        for result in results
        for attempt in result.attempts
        if attempt.outcome is not Outcome.SKIPPED
    )
    for (provider, outcome), leads in counted.items():
        _LOOKUPS.add(leads, {"provider": provider, "outcome": outcome.value})


def _blocks(suppressions: SuppressionList, account_id: str, record: Record) -> bool:
    values = record.values
    return suppressions.blocks(
        account_id,
        str(values.get("email") or ""),
        str(values.get("linkedin_url") or ""),
        str(values.get("domain") or ""),
    )


def _screened(suppressions: SuppressionList, account_id: str, result: LookupResult) -> LookupResult:
    """``result`` unless what the providers found is suppressed (a person found by name whose
    address is on a list, a company whose domain is), without its suppressed contacts."""
    if not result.found:
        return result
    if _blocks(suppressions, account_id, result.person) or _blocks(suppressions, account_id, result.company):
        return LookupResult.suppressed_result()
    result.contacts = [c for c in result.contacts if not _blocks(suppressions, account_id, c)]
    return result


@dataclass
class ContactsPage:
    company: Record
    contacts: list[Record]
    next_page_token: str


def _record(doc: Document, names: Sequence[str], confidence: float) -> Record:
    observed = as_datetime(doc.get("updated_at")) or utc_now()
    source = FieldSource(DIRECTORY, confidence, observed)
    values = {name: doc[name] for name in names if name in doc}
    return Record(values, dict.fromkeys(values, source))


class ProviderLookup:
    def __init__(
        self,
        providers: Sequence[Provider],
        order: Sequence[str],
        waterfall: Waterfall,
        repository: DirectoryReads,
        max_batch: int = 20000,
        suppressions: SuppressionList | None = None,
    ):
        self.providers: Mapping[str, Provider] = {p.name: p for p in providers}
        self.order = default_order(providers, order)
        self.waterfall = waterfall
        self.repository = repository
        self.max_batch = max_batch
        self.confidence = MatchConfidence()
        self.suppressions = suppressions

    async def plan(self, account_id: str, override: Sequence[str]) -> list[Provider]:
        """The providers to ask, in order: the call's override, else the account's, else the
        configured order. The directory is always first."""
        order = list(override) or await self.repository.provider_order(account_id) or self.order
        unknown = [name for name in order if name not in self.providers]
        if unknown:
            raise InvalidArgument(
                f"unknown provider {unknown[0]!r}; known: {', '.join(sorted(self.providers))}",
                reason="UNKNOWN_PROVIDER",
                metadata={"provider": unknown[0]},
            )
        names = list(dict.fromkeys(order))
        if DIRECTORY in self.providers and DIRECTORY not in names:
            names.insert(0, DIRECTORY)
        return [self.providers[name] for name in names]

    async def lookup(
        self, account_id: str, leads: Sequence[Lead], request: LookupRequest, override: Sequence[str]
    ) -> list[LookupResult]:
        if len(leads) > self.max_batch:
            raise InvalidArgument(f"at most {self.max_batch} leads per batch", reason="BATCH_TOO_LARGE")
        plan = await self.plan(account_id, override)
        suppressions = self.suppressions
        if suppressions is None or suppressions.empty:
            results = await self.waterfall.run(leads, plan, request)
            _count_lookups(results)
            return results
        blocked = [suppressions.blocks(account_id, x.email, x.linkedin_url, x.company_domain) for x in leads]
        todo = [lead for lead, no in zip(leads, blocked, strict=True) if not no]
        ran = iter(await self.waterfall.run(todo, plan, request) if todo else [])
        results = [LookupResult.suppressed_result() if no else next(ran) for no in blocked]
        _count_lookups(results)
        return [_screened(suppressions, account_id, result) for result in results]

    def _suppressed(self, account_id: str, person: Document) -> bool:
        assert self.suppressions is not None
        return self.suppressions.blocks(
            account_id,
            person.get("email", ""),
            person.get("linkedin_url", ""),
            person.get("company_domain", ""),
        )

    async def find_contacts(
        self,
        domain: str,
        name: str,
        seniorities: Sequence[str],
        departments: Sequence[str],
        requested_page_size: int,
        page_token: str,
        account_id: str = "",
    ) -> ContactsPage:
        """A company's people from the directory, most senior first, filtered and paginated
        (without the people suppressed for the account and those erased from leadmesh)."""
        registered = normalize_domain(domain) if domain.strip() else None
        key = company_key(clean_company_name(name)) if name.strip() else ""
        if domain.strip() and registered is None:
            raise InvalidArgument("company_domain is not a domain", reason="INVALID_DOMAIN")
        if not registered and not key:
            raise InvalidArgument("company_domain or company_name is required", reason="COMPANY_REQUIRED")
        limit = page_size(requested_page_size, default=20, maximum=100)
        after = decode_page_token(page_token) if page_token else None
        company_doc: Document | None = None
        confidence = self.confidence.company_domain
        if registered:
            found = await self.repository.companies_by("domain", [registered])
            company_doc = found[0] if found else None
        else:
            named = await self.repository.companies_by("name_key", [key])
            confidence = self.confidence.company_name if len(named) == 1 else self.confidence.ambiguous
            company_doc = named[0] if len(named) == 1 else None
            registered = (company_doc or {}).get("domain")
        field, value = ("company_domain", registered) if registered else ("company_key", key)
        people = await self.repository.contacts_page(field, value, after, limit + 1, seniorities, departments)
        if company_doc is None and not people and after is None:
            raise NotFound(f"no company {domain or name!r} in the directory", reason="COMPANY_NOT_FOUND")
        more = len(people) > limit
        people = people[:limit]
        token = encode_page_token(people[-1]["contact_rank"]) if more else ""
        if self.suppressions is not None and not self.suppressions.empty:
            people = [p for p in people if not self._suppressed(account_id, p)]
        company = _record(company_doc, COMPANY_FIELDS, confidence) if company_doc else Record()
        return ContactsPage(company, [_record(p, PERSON_FIELDS, confidence) for p in people], token)
