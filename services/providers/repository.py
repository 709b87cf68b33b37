"""The providers service's directory collections: the customer's own people and companies.

``providers_people`` and ``providers_companies`` hold normalised records with the matching keys
(email, LinkedIn URL, name + domain, name + company) indexed. Every read and write is batched:
a lookup batch is a handful of ``$in`` queries, an import a few bulk writes.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document, IndexSpec, ensure_indexes, utc_now
from libs.normalize import Seniority
from libs.ttlcache import TtlCache
from services.providers.domain.models import COMPANY_FIELDS, PERSON_FIELDS, Fields

__all__ = [
    "EMBEDDED_CONTACTS",
    "POINT_QUERIES",
    "TOP_CONTACTS",
    "DirectoryReads",
    "DirectoryRepository",
    "company_document",
    "person_document",
    "with_top_contacts",
]

# How many best-fit contacts a company record lists (ids) for company-only lookups, and how many
# of them it carries whole, so that a company lead costs no second query.
TOP_CONTACTS = 25
ORDER_CACHE_TTL = 5.0
# Company records (without their contacts) read by domain are kept in the process for the
# ``company_ttl`` seconds given, at most this many: the leads of a company come again and again
# and its record changes rarely. An import drops the process's own copies; another process's
# import is seen after the TTL.
COMPANY_CACHE_SIZE = 20_000
EMBEDDED_CONTACTS = 5
# Up to this many keys of one kind are looked up one equality query each (concurrently) rather
# than with one $in: the embedded store answers an equality from its index but scans the whole
# collection for an $in (except an $in on _id). (On MongoDB both use the index.)
POINT_QUERIES = 32
# Documents per bulk write / insert.
CHUNK = 5000


_NO_CONTACTS = {"contacts": 0}


class DirectoryReads(Protocol):
    """The reads lookups make: of :class:`DirectoryRepository`, or of the test-mode sandbox
    (:class:`services.providers.sandbox.SandboxDirectory`)."""

    async def people_by(self, key: str, values: Iterable[str]) -> list[Document]: ...

    async def companies_by(
        self, key: str, values: Iterable[str], contacts: bool = True
    ) -> list[Document]: ...

    async def contacts_page(
        self,
        field: str,
        value: str,
        after_rank: str | None,
        limit: int,
        seniorities: Sequence[str] = (),
        departments: Sequence[str] = (),
    ) -> list[Document]: ...

    async def provider_order(self, account_id: str) -> list[str]: ...


def _id(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.blake2b(key.encode(), digest_size=12).hexdigest()}"


def _contact_rank(person: Fields) -> str:
    """Sorts a company's people most senior first, then by name; unique per person."""
    seniority = person.get("seniority")
    rank = Seniority(seniority).rank if seniority else -1
    last, first = person.get("last_name", "").lower(), person.get("first_name", "").lower()
    return f"{9 - rank}|{last}|{first}|{person['_id']}"


def person_document(
    person: Fields, company: Fields, source: str, name_key: str, company_key: str
) -> Document:
    """A directory person from normalised fields, with its matching keys and deterministic id
    (re-importing the same person replaces it)."""
    domain = company.get("domain", "")
    if person.get("email"):
        identity = f"email:{person['email']}"
    elif person.get("linkedin_url"):
        identity = f"li:{person['linkedin_url']}"
    else:
        identity = f"nd:{name_key}|{domain or company_key}"
    doc: Document = {"_id": _id("pp", identity), "person_key": identity}
    doc.update({name: person[name] for name in PERSON_FIELDS if person.get(name) not in (None, "")})
    doc["name_key"] = name_key
    if company.get("name"):
        doc["company_name"] = company["name"]
    if domain:
        doc["company_domain"] = domain
    if company_key:
        doc["company_key"] = company_key
    if name_key and domain:
        doc["name_domain"] = f"{name_key}|{domain}"
    if name_key and company_key:
        doc["name_company"] = f"{name_key}|{company_key}"
    doc["contact_rank"] = _contact_rank(doc)
    doc["source"] = source
    doc["updated_at"] = utc_now()
    return doc


def company_document(company: Fields, source: str, name_key: str) -> Document:
    """A directory company keyed by its domain (or by its name when it has none)."""
    domain = company.get("domain", "")
    doc: Document = {"_id": domain or f"name:{name_key}"}
    doc.update({name: company[name] for name in COMPANY_FIELDS if company.get(name) not in (None, "", [])})
    doc["name_key"] = name_key
    doc["source"] = source
    doc["updated_at"] = utc_now()
    return doc


def with_top_contacts(company: Document, people: Iterable[Document]) -> Document:
    """``company`` with its best-fit contacts among ``people``: ids of the first TOP_CONTACTS
    (most senior first) and the first EMBEDDED_CONTACTS whole."""
    ranked = sorted(people, key=lambda person: person["contact_rank"])[:TOP_CONTACTS]
    company["top_contacts"] = [person["_id"] for person in ranked]
    company["contacts"] = [
        {name: person[name] for name in PERSON_FIELDS if name in person}
        for person in ranked[:EMBEDDED_CONTACTS]
    ]
    return company


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DirectoryRepository:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        point_queries: int = POINT_QUERIES,
        company_ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        """``clock`` is what the in-process caches (companies, provider orders) expire by."""
        self.db = db
        self.point_queries = point_queries
        self.people = db["providers_people"]
        self.companies = db["providers_companies"]
        self.account_settings = db["providers_account_settings"]
        self._orders: TtlCache[str, tuple[str, ...]] = TtlCache(ORDER_CACHE_TTL, 10_000, clock)
        self._companies: TtlCache[str, Document] = TtlCache(company_ttl, COMPANY_CACHE_SIZE, clock)

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self.people, [IndexSpec([("person_key", 1)], unique=True)])
        await ensure_indexes(self.people, [IndexSpec([("email", 1)])])
        await ensure_indexes(self.people, [IndexSpec([("linkedin_url", 1)])])
        await ensure_indexes(self.people, [IndexSpec([("name_domain", 1)])])
        await ensure_indexes(self.people, [IndexSpec([("name_company", 1)])])
        await ensure_indexes(self.people, [IndexSpec([("company_domain", 1), ("contact_rank", 1)])])
        await ensure_indexes(self.people, [IndexSpec([("company_key", 1), ("contact_rank", 1)])])
        await ensure_indexes(self.companies, [IndexSpec([("domain", 1)])])
        await ensure_indexes(self.companies, [IndexSpec([("name_key", 1)])])
        await ensure_indexes(self.companies, [IndexSpec([("linkedin_url", 1)])])

    # writes

    async def insert_people(self, docs: Sequence[Document]) -> None:
        """Bulk insert into an empty directory (the fastest path: seeding, benchmarks)."""
        for chunk in _chunks(docs):
            await self.people.insert_many(list(chunk), ordered=False)

    async def insert_companies(self, docs: Sequence[Document]) -> None:
        for chunk in _chunks(docs):
            await self.companies.insert_many(list(chunk), ordered=False)
        self._companies.clear()

    async def upsert_people(self, docs: Sequence[Document]) -> None:
        """Insert or replace people by id (re-importing a file updates what it had loaded)."""
        for chunk in _chunks(docs):
            await self.people.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in chunk], ordered=False
            )

    async def upsert_companies(self, docs: Sequence[Document]) -> None:
        """Insert or update companies; their top contacts are kept."""
        for chunk in _chunks(docs):
            ops = [
                UpdateOne(
                    {"_id": d["_id"]}, {"$set": {k: v for k, v in d.items() if k != "_id"}}, upsert=True
                )
                for d in chunk
            ]
            await self.companies.bulk_write(ops, ordered=False)
        self._companies.clear()

    async def refresh_top_contacts(self, domains: Iterable[str]) -> int:
        """Recomputes the best-fit contacts of these companies (most senior first) and creates a
        company record for a domain that has people but none yet. Returns companies touched."""
        touched = 0
        for chunk in _chunks(sorted(set(domains)), 2000):
            members: dict[str, list[Document]] = defaultdict(list)
            async for doc in self.people.find({"company_domain": {"$in": list(chunk)}}):
                members[doc["company_domain"]].append(doc)
            ops = []
            for domain, people in members.items():
                best = with_top_contacts({}, people)
                on_insert: Document = {"domain": domain, "updated_at": utc_now(), "source": "contacts"}
                names = [p["company_name"] for p in people if p.get("company_name")]
                if names:
                    on_insert["name"] = names[0]
                ops.append(UpdateOne({"_id": domain}, {"$set": best, "$setOnInsert": on_insert}, upsert=True))
            if ops:
                await self.companies.bulk_write(ops, ordered=False)
            touched += len(ops)
        self._companies.clear()
        return touched

    # reads

    async def people_by(self, key: str, values: Iterable[str]) -> list[Document]:
        """People whose ``key`` (email, linkedin_url, name_domain, name_company, _id) is in
        ``values``.

        By email they are read by id: a person with an email has the id ``person_document``
        derives from it (one per email), and an id lookup is a primary-key read on any store,
        where the embedded store scans the collection for an ``$in`` on another field. Whole
        documents: the embedded store copies a document to project it, which costs more than
        the few bookkeeping fields it would leave out."""
        if key == "email":
            emails = set(values)
            ids = [_id("pp", f"email:{email}") for email in emails]
            return [doc for doc in await self._find(self.people, "_id", ids) if doc.get("email") in emails]
        return await self._find(self.people, key, values)

    async def companies_by(self, key: str, values: Iterable[str], contacts: bool = True) -> list[Document]:
        """Companies whose ``key`` (domain, name_key) is in ``values``; without their embedded
        contacts unless ``contacts``. A company with a domain has it as its id
        (``company_document``), so by domain they are read by id."""
        projection = None if contacts else _NO_CONTACTS
        if key == "domain" and contacts:
            domains = set(values)
            found = await self._find(self.companies, "_id", domains)
            return [doc for doc in found if doc.get("domain") in domains]
        if key == "domain":
            return await self._companies_by_domain(set(values))
        return await self._find(self.companies, key, values, projection)

    async def _companies_by_domain(self, domains: set[str]) -> list[Document]:
        """Companies without their contacts, from the process's cache where it has them (shared
        documents: read, never changed)."""
        known = {domain: self._companies.get(domain) for domain in domains}
        missing = [domain for domain, doc in known.items() if doc is None]
        for doc in await self._find(self.companies, "_id", missing, _NO_CONTACTS):
            if doc.get("domain") in known:
                known[doc["domain"]] = doc
                self._companies.put(doc["domain"], doc)
        return [doc for doc in known.values() if doc is not None]

    async def _find(
        self,
        collection: AsyncCollection[Document],
        key: str,
        values: Iterable[str],
        projection: Mapping[str, int] | None = None,
    ) -> list[Document]:
        wanted = sorted(set(values))
        if not wanted:
            return []
        if key != "_id" and len(wanted) <= self.point_queries:
            found = await asyncio.gather(
                *(collection.find({key: value}, projection).to_list(None) for value in wanted)
            )
            return [doc for docs in found for doc in docs]
        result: list[Document] = []
        for chunk in _chunks(wanted, 20000):
            result += await collection.find({key: {"$in": list(chunk)}}, projection).to_list(None)
        return result

    async def contacts_page(
        self,
        field: str,
        value: str,
        after_rank: str | None,
        limit: int,
        seniorities: Sequence[str] = (),
        departments: Sequence[str] = (),
    ) -> list[Document]:
        """A company's people (``field`` is company_domain or company_key), most senior first,
        after ``after_rank``."""
        query: dict[str, Any] = {field: value}
        if after_rank:
            query["contact_rank"] = {"$gt": after_rank}
        if seniorities:
            query["seniority"] = {"$in": list(seniorities)}
        if departments:
            query["department"] = {"$in": list(departments)}
        return await self.people.find(query).sort("contact_rank", 1).limit(limit).to_list(None)

    async def counts(self) -> tuple[int, int]:
        return await self.people.count_documents({}), await self.companies.count_documents({})

    # per-account settings

    async def provider_order(self, account_id: str) -> list[str]:
        """The waterfall order an account chose, or [] for the configured one (read on every
        lookup, so kept ORDER_CACHE_TTL seconds; a change made through this replica is seen at once)."""
        if not account_id:
            return []
        cached = self._orders.get(account_id)
        if cached is None:
            doc = await self.account_settings.find_one({"_id": account_id}, {"provider_order": 1})
            cached = tuple(doc.get("provider_order") or []) if doc else ()
            self._orders.put(account_id, cached)
        return list(cached)

    async def set_provider_order(self, account_id: str, order: Sequence[str]) -> None:
        await self.account_settings.replace_one(
            {"_id": account_id},
            {"_id": account_id, "provider_order": list(order), "update_time": utc_now()},
            upsert=True,
        )
        self._orders.put(account_id, tuple(order))
