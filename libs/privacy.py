"""Personal data: the people an erasure names, their keyed hashes, and the collections each
service declares it keeps them in.

A person is named by a normalised address and/or LinkedIn profile URL (:class:`DataSubject`).
What is kept of them after an erasure, and what an account's do-not-enrich list holds, is only a
keyed hash (HMAC-SHA256 with the operator's ``LEADMESH_PRIVACY_HASH_SECRET``) of the normalised
form: without the secret, nobody holding the store can test whether an address was erased.

Each service that stores personal data declares, per collection, how a person is erased from it
(:class:`Holding`), and every collection it stores nothing personal in (``no_personal_data``):
the privacy test lists every collection a real mesh creates and fails on one that is declared
in neither, so a new collection cannot be forgotten.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from libs.errors import InvalidArgument
from libs.mongo import Document
from libs.normalize.domains import normalize_domain, normalize_email
from libs.normalize.linkedin import normalize_linkedin_url

__all__ = [
    "SUPPRESSED",
    "DataSubject",
    "Holding",
    "PersonalData",
    "SubjectHasher",
    "blank_mentions",
    "delete_mentioning",
    "mentioning",
    "mentions",
    "needles",
    "rewrite_mentioning",
    "subject",
]

# The reason a suppressed lead is not found (``meta.not_found_reason``, a CSV row's reason, an
# import's rejection).
SUPPRESSED = "suppressed"
# Documents read per round trip when a collection is scanned for a person.
SCAN_BATCH = 1000


@dataclass(frozen=True)
class DataSubject:
    """One person, by the normalised identifiers they are known by (either may be empty)."""

    email: str = ""
    linkedin_url: str = ""


def subject(email: str = "", linkedin_url: str = "") -> DataSubject:
    """The person named by ``email`` and/or ``linkedin_url``, normalised (``Jane@Acme.COM`` is
    ``jane@acme.com``); INVALID_ARGUMENT when neither names anyone."""
    address = normalize_email(email) if email.strip() else ""
    profile = normalize_linkedin_url(linkedin_url) if linkedin_url.strip() else ""
    if address is None:
        raise InvalidArgument(f"{email!r} is not an email address", reason="INVALID_EMAIL")
    if profile is None:
        raise InvalidArgument(
            f"{linkedin_url!r} is not a LinkedIn profile URL", reason="INVALID_LINKEDIN_URL"
        )
    if not address and not profile:
        raise InvalidArgument("a person needs an email or a LinkedIn URL", reason="SUBJECT_REQUIRED")
    return DataSubject(address, profile)


class SubjectHasher:
    """Keyed hashes of normalised identifiers. The kind is part of the hashed text, so that an
    address and a domain never share a hash."""

    def __init__(self, secret: str):
        if len(secret) < 16:
            raise ValueError("the privacy hash secret must be at least 16 characters")
        self._key = secret.encode()

    def _hash(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def email(self, address: str) -> str | None:
        normal = normalize_email(address) if address else None
        return None if normal is None else self._hash("email", normal)

    def linkedin(self, url: str) -> str | None:
        normal = normalize_linkedin_url(url) if url else None
        return None if normal is None else self._hash("linkedin", normal)

    def domain(self, domain: str) -> str | None:
        normal = normalize_domain(domain) if domain else None
        return None if normal is None else self._hash("domain", normal)

    def of(self, person: DataSubject) -> list[str]:
        hashes = [self.email(person.email), self.linkedin(person.linkedin_url)]
        return [value for value in hashes if value]


def needles(people: Iterable[DataSubject]) -> tuple[str, ...]:
    """The lower-case forms a person's identifiers are written in: the address (also
    percent-encoded, as in a URL's query) and the profile's ``linkedin.com/<kind>/<slug>``."""
    found: list[str] = []
    for person in people:
        if person.email:
            found += [person.email, quote(person.email, safe="").lower()]
        if person.linkedin_url:
            found.append(person.linkedin_url.removeprefix("https://www."))
    return tuple(dict.fromkeys(found))


def mentions(value: Any, forms: Sequence[str]) -> bool:
    """Whether ``value`` (a document, a list, text or bytes, nested) contains any of ``forms``
    in any letter case."""
    if isinstance(value, str):
        lowered = value.lower()
        return any(form in lowered for form in forms)
    if isinstance(value, bytes | bytearray | memoryview):
        lowered_bytes = bytes(value).lower()
        return any(form.encode() in lowered_bytes for form in forms)
    if isinstance(value, dict):
        return any(mentions(item, forms) for item in value.values())
    if isinstance(value, list | tuple):
        return any(mentions(item, forms) for item in value)
    return False


def blank_mentions(value: Any, forms: Sequence[str]) -> Any:
    """``value`` with every text that contains one of ``forms`` replaced by ``""``."""
    if isinstance(value, str):
        return "" if mentions(value, forms) else value
    if isinstance(value, dict):
        return {key: blank_mentions(item, forms) for key, item in value.items()}
    if isinstance(value, list):
        return [blank_mentions(item, forms) for item in value]
    return value


async def mentioning(
    collection: AsyncCollection[Document], forms: Sequence[str], query: Document | None = None
) -> list[Document]:
    """Every document of ``collection`` (matching ``query``) that mentions one of ``forms``: a
    scan in batches, since the person may be written anywhere in any case."""
    found: list[Document] = []
    async for document in collection.find(query or {}, batch_size=SCAN_BATCH):
        if mentions(document, forms):
            found.append(document)
    return found


async def delete_mentioning(
    collection: AsyncCollection[Document], forms: Sequence[str], query: Document | None = None
) -> int:
    """Deletes the documents that mention the person; how many."""
    if not forms:
        return 0
    ids = [document["_id"] for document in await mentioning(collection, forms, query)]
    if not ids:
        return 0
    deleted = await collection.delete_many({"_id": {"$in": ids}})
    return deleted.deleted_count


async def rewrite_mentioning(
    collection: AsyncCollection[Document],
    forms: Sequence[str],
    rewrite: Callable[[Document], Document],
    query: Document | None = None,
) -> int:
    """Rewrites each document that mentions the person as ``rewrite(document)`` (the same fields,
    blanked); how many. (Fields are set rather than the document replaced: the embedded store
    cannot replace a document holding bytes.)"""
    if not forms:
        return 0
    changed = 0
    for document in await mentioning(collection, forms, query):
        fields = {name: value for name, value in rewrite(document).items() if name != "_id"}
        result = await collection.update_one({"_id": document["_id"]}, {"$set": fields})
        changed += result.modified_count
    return changed


Erase = Callable[[AsyncDatabase[Document], Sequence[DataSubject]], Awaitable[int]]


@dataclass(frozen=True)
class Holding:
    """A collection that keeps people, and how one is erased from it (returns how many items)."""

    collection: str
    erase: Erase


@dataclass(frozen=True)
class PersonalData:
    """What one service declares: where it keeps people, and the collections that keep none."""

    service: str
    holdings: tuple[Holding, ...]
    no_personal_data: frozenset[str] = frozenset()

    @property
    def collections(self) -> frozenset[str]:
        return frozenset(h.collection for h in self.holdings) | self.no_personal_data
