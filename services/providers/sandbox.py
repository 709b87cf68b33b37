"""Test-mode lookups (an ``lm_test_`` key): the waterfall over the sandbox directory alone
(:mod:`services.demo_world.sandbox`, in memory), no vendor called, no lookup cache, nothing stored.

:class:`SandboxDirectory` answers the reads of :class:`~services.providers.repository.DirectoryRepository`
that the directory provider and the lookup make, from the sandbox's records, so a test key's lead
is matched by the very code a live one is (email, LinkedIn URL, name and domain or company, a
company alone and its best-fit contacts).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence

from libs.mongo import Document
from services.demo_world.sandbox import Sandbox, sandbox
from services.providers.adapters.directory import DirectoryProvider
from services.providers.domain.waterfall import Waterfall, WaterfallPolicy
from services.providers.lookup import ProviderLookup

__all__ = ["SandboxDirectory", "sandbox_lookup"]

_PEOPLE_KEYS = (
    "_id",
    "email",
    "linkedin_url",
    "name_domain",
    "name_company",
    "company_domain",
    "company_key",
)
_COMPANY_KEYS = ("domain", "name_key")


def _index(docs: Iterable[Document], keys: Sequence[str]) -> dict[str, dict[str, list[Document]]]:
    by: dict[str, dict[str, list[Document]]] = {key: defaultdict(list) for key in keys}
    for doc in docs:
        for key in keys:
            if doc.get(key):
                by[key][str(doc[key])].append(doc)
    return by


class SandboxDirectory:
    """The sandbox's people and companies, read as the directory repository reads its store."""

    def __init__(self, people: Iterable[Document], companies: Iterable[Document]):
        self.people = _index(people, _PEOPLE_KEYS)
        self.companies = _index(companies, _COMPANY_KEYS)

    async def people_by(self, key: str, values: Iterable[str]) -> list[Document]:
        return [doc for value in sorted(set(values)) for doc in self.people[key].get(value, ())]

    async def companies_by(self, key: str, values: Iterable[str], contacts: bool = True) -> list[Document]:
        return [doc for value in sorted(set(values)) for doc in self.companies[key].get(value, ())]

    async def contacts_page(
        self,
        field: str,
        value: str,
        after_rank: str | None,
        limit: int,
        seniorities: Sequence[str] = (),
        departments: Sequence[str] = (),
    ) -> list[Document]:
        people = sorted(self.people[field].get(value, ()), key=lambda doc: str(doc["contact_rank"]))
        return [
            doc
            for doc in people
            if (not after_rank or doc["contact_rank"] > after_rank)
            and (not seniorities or doc.get("seniority") in seniorities)
            and (not departments or doc.get("department") in departments)
        ][:limit]

    async def provider_order(self, account_id: str) -> list[str]:
        return []


@functools.cache
def _lookup(world: Sandbox) -> ProviderLookup:
    directory = SandboxDirectory(world.directory.people, world.directory.companies)
    return ProviderLookup([DirectoryProvider(directory)], [], Waterfall(None, WaterfallPolicy()), directory)


async def sandbox_lookup() -> ProviderLookup:
    """The test-mode lookup (the sandbox built on first use, off the event loop)."""
    return _lookup(await sandbox())
