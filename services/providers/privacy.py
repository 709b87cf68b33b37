"""Where the providers service keeps people, how one is erased, and the audit of erasures.

An erasure first suppresses the people for good (``providers_suppressions``: keyed hashes), so
that no import, vendor answer or cache brings them back while it runs or after; then their
directory records go, the companies' embedded contacts are rebuilt without them, and every
cached vendor answer that mentions them is deleted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from leadmesh.privacy.v1 import privacy_service_pb2 as privacy_pb
from libs.mongo import Document, utc_now
from libs.privacy import (
    DataSubject,
    Holding,
    PersonalData,
    delete_mentioning,
    mentioning,
    mentions,
    needles,
    rewrite_mentioning,
)
from libs.privacy_service import BeforeErasure
from services.providers.repository import DirectoryRepository
from services.providers.suppressions import COLLECTION as SUPPRESSIONS
from services.providers.suppressions import SuppressionList

__all__ = ["ERASURES", "ErasureAudit", "declared", "suppress_first"]

ERASURES = "providers_erasures"


def declared(repository: DirectoryRepository) -> PersonalData:
    async def erase_people(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
        # A scan, not the email and linkedin_url indexes alone: a person may be written in
        # another form too (an address in a name field, a URL with a query).
        found = await mentioning(repository.people, needles(people))
        if not found:
            return 0
        await repository.people.delete_many({"_id": {"$in": [doc["_id"] for doc in found]}})
        domains = {doc["company_domain"] for doc in found if doc.get("company_domain")}
        if domains:
            await repository.refresh_top_contacts(domains)
        return len(found)

    async def erase_contacts(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
        forms = needles(people)

        def without(company: Document) -> Document:
            kept = [c for c in company.get("contacts") or [] if not mentions(c, forms)]
            return {**company, "contacts": kept}

        return await rewrite_mentioning(repository.companies, forms, without)

    async def erase_cache(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
        return await delete_mentioning(db["providers_cache"], needles(people))

    return PersonalData(
        service="providers",
        holdings=(
            Holding("providers_people", erase_people),
            Holding("providers_companies", erase_contacts),
            Holding("providers_cache", erase_cache),
        ),
        no_personal_data=frozenset({SUPPRESSIONS, ERASURES, "providers_account_settings"}),
    )


def suppress_first(suppressions: SuppressionList, audit: ErasureAudit) -> BeforeErasure:
    """PrivacyService's step before the collections: suppress, and open the audit entry."""

    async def before(people: Sequence[DataSubject], request: privacy_pb.ErasePersonalDataRequest) -> None:
        await suppressions.suppress_people(people)
        await audit.open(request.erasure_id, request.operator, suppressions.hashes_of(people))

    return before


class ErasureAudit:
    """``providers_erasures``: one entry per erasure (when, who, how many items each service
    erased, complete or not). Hashes only, never an address. Whole documents are written: the
    embedded store keeps nested values of update operators as text."""

    def __init__(self, db: AsyncDatabase[Document]):
        self.collection = db[ERASURES]

    async def open(self, erasure_id: str, operator: str, hashes: Sequence[str]) -> None:
        if not erasure_id:
            return
        entry: Document = {
            "_id": erasure_id,
            "create_time": utc_now(),
            "operator": operator,
            "subject_hashes": list(hashes),
            "erased": [],
            "complete": False,
        }
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.insert_one(entry)

    async def record(
        self, erasure_id: str, operator: str, hashes: Sequence[str], erased: list[Document], complete: bool
    ) -> datetime:
        now = utc_now()
        found = await self.collection.find_one({"_id": erasure_id}) or {}
        entry: Document = {
            "_id": erasure_id,
            "create_time": found.get("create_time", now),
            "operator": operator,
            "subject_hashes": found.get("subject_hashes") or list(hashes),
            "erased": erased,
            "complete": complete,
            "record_time": now,
        }
        await self.collection.replace_one({"_id": erasure_id}, entry, upsert=True)
        return now
