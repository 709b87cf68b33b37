"""Who must not be found: the people erased from leadmesh (for every account) and each account's
do-not-enrich list of addresses and domains, as keyed hashes only (``providers_suppressions``).

The lookups ask :class:`SuppressionList` in memory: every hash is loaded at start and reloaded
every few seconds (another replica's additions are seen within that time; this replica's own at
once). With no suppression at all a lookup pays nothing; otherwise one keyed hash per
identifier of a lead.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from libs.errors import FailedPrecondition, InvalidArgument, NotFound
from libs.ids import decode_page_token, encode_page_token, new_id, page_size
from libs.mongo import Document, IndexSpec, ensure_indexes, utc_now
from libs.normalize.domains import email_domain, normalize_domain, normalize_email
from libs.privacy import DataSubject, SubjectHasher

__all__ = ["MAX_PER_CALL", "SuppressionList", "SuppressionPage"]

COLLECTION = "providers_suppressions"
# The operator's suppressions (erased people) belong to no account.
EVERY_ACCOUNT = ""
MAX_PER_CALL = 1000
EMAIL, DOMAIN, PERSON = "email", "domain", "person"


@dataclass(frozen=True)
class SuppressionPage:
    suppressions: list[Document]
    next_page_token: str


def _key(account_id: str, digest: str) -> str:
    return hashlib.sha256(f"{account_id}|{digest}".encode()).hexdigest()


class SuppressionList:
    def __init__(self, db: AsyncDatabase[Document], hasher: SubjectHasher | None):
        self.collection = db[COLLECTION]
        self.hasher = hasher
        self._every: set[str] = set()
        self._accounts: dict[str, set[str]] = defaultdict(set)

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self.collection, [IndexSpec([("key", 1)], unique=True)])
        await ensure_indexes(self.collection, [IndexSpec([("account_id", 1)])])

    @property
    def empty(self) -> bool:
        return not self._every and not self._accounts

    async def reload(self) -> int:
        """Reads every hash again (the periodic refresh); how many there are."""
        every: set[str] = set()
        accounts: dict[str, set[str]] = defaultdict(set)
        async for doc in self.collection.find({}, {"account_id": 1, "hash": 1}):
            (every if doc["account_id"] == EVERY_ACCOUNT else accounts[doc["account_id"]]).add(doc["hash"])
        self._every, self._accounts = every, accounts
        return len(every) + sum(len(hashes) for hashes in accounts.values())

    # the lookups' questions

    def blocks(self, account_id: str, email: str = "", linkedin_url: str = "", domain: str = "") -> bool:
        """Whether a lead or an answer with these identifiers must not be found for the account."""
        if self.hasher is None or self.empty:
            return False
        mine = self._accounts.get(account_id, set())
        for digest in (self.hasher.email(email), self.hasher.linkedin(linkedin_url)):
            if digest and (digest in self._every or digest in mine):
                return True
        if mine:
            domains = {domain, email_domain(email) if email else ""}
            for name in filter(None, domains):
                digest = self.hasher.domain(name)
                if digest and digest in mine:
                    return True
        return False

    def erased(self, person: Mapping[str, Any]) -> bool:
        """Whether a person's fields (a vendor's answer) name someone erased from leadmesh."""
        return self.blocks(
            EVERY_ACCOUNT, str(person.get("email") or ""), str(person.get("linkedin_url") or "")
        )

    # writes

    def _require_hasher(self) -> SubjectHasher:
        if self.hasher is None:
            raise FailedPrecondition(
                "suppressions need LEADMESH_PRIVACY_HASH_SECRET to be set on the providers service",
                reason="PRIVACY_SECRET_MISSING",
            )
        return self.hasher

    async def suppress_people(self, people: Sequence[DataSubject]) -> int:
        """Suppresses erased people for every account, for good; how many hashes were new."""
        hasher = self._require_hasher()
        added = 0
        for person in people:
            for digest in hasher.of(person):
                added += await self._insert(EVERY_ACCOUNT, PERSON, digest, "") is not None
                self._every.add(digest)
        return added

    async def add(
        self, account_id: str, emails: Sequence[str], domains: Sequence[str]
    ) -> tuple[list[Document], int]:
        """An account's suppressions for these addresses and domains (each once), and how many
        were new. INVALID_ARGUMENT names the first value that is not an address or a domain."""
        hasher = self._require_hasher()
        if not emails and not domains:
            raise InvalidArgument("give at least one of emails and domains", reason="SUPPRESSIONS_REQUIRED")
        if len(emails) + len(domains) > MAX_PER_CALL:
            raise InvalidArgument(
                f"at most {MAX_PER_CALL} suppressions per call", reason="TOO_MANY_SUPPRESSIONS"
            )
        wanted: dict[str, tuple[str, str]] = {}
        for index, value in enumerate(emails):
            address = normalize_email(value)
            if address is None:
                raise _invalid(f"emails[{index}]", value, "an email address")
            wanted.setdefault(str(hasher.email(address)), (EMAIL, "***@" + address.split("@")[1]))
        for index, value in enumerate(domains):
            domain = normalize_domain(value)
            if domain is None:
                raise _invalid(f"domains[{index}]", value, "a domain")
            wanted.setdefault(str(hasher.domain(domain)), (DOMAIN, domain))
        documents, added = [], 0
        for digest, (kind, display) in wanted.items():
            new = await self._insert(account_id, kind, digest, display)
            if new is None:
                existing = await self.collection.find_one({"key": _key(account_id, digest)})
                assert existing is not None
                documents.append(existing)
            else:
                documents.append(new)
                added += 1
            self._accounts[account_id].add(digest)
        return documents, added

    async def _insert(self, account_id: str, kind: str, digest: str, display: str) -> Document | None:
        """The new document, or None when it was there already."""
        document: Document = {
            "_id": new_id("sup"),
            "key": _key(account_id, digest),
            "account_id": account_id,
            "kind": kind,
            "hash": digest,
            "display": display,
            "create_time": utc_now(),
        }
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return None
        return document

    async def page(self, account_id: str, requested_size: int, token: str) -> SuppressionPage:
        """The account's suppressions, newest first."""
        limit = page_size(requested_size, default=50, maximum=200)
        query: Document = {"account_id": account_id}
        if token:
            query["_id"] = {"$lt": decode_page_token(token)}
        found = [doc async for doc in self.collection.find(query).sort("_id", -1).limit(limit + 1)]
        more = len(found) > limit
        found = found[:limit]
        return SuppressionPage(found, encode_page_token(found[-1]["_id"]) if more else "")

    async def delete(self, account_id: str, suppression_id: str) -> None:
        found = (
            await self.collection.find_one_and_delete({"_id": suppression_id, "account_id": account_id})
            if account_id != EVERY_ACCOUNT
            else None
        )
        if found is None:
            raise NotFound(f"suppression {suppression_id!r} not found", reason="SUPPRESSION_NOT_FOUND")
        self._accounts[account_id].discard(found["hash"])

    def hashes_of(self, people: Iterable[DataSubject]) -> list[str]:
        hasher = self._require_hasher()
        return [digest for person in people for digest in hasher.of(person)]


def _invalid(field: str, value: str, what: str) -> InvalidArgument:
    return InvalidArgument(
        f"{field} {value!r} is not {what}", reason="INVALID_SUPPRESSION", metadata={"field": field}
    )
