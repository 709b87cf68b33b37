"""Scoring's collection: every version of every account's ICP profile. No other service reads it.

One document per ``(account_id, version)``, unique: two writers of the same next version cannot
both win, which is what versioning and optimistic concurrency rest on.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from libs.ids import new_id
from libs.mongo import Document, IndexSpec, as_datetime, ensure_indexes, utc_now
from services.scoring.domain import (
    CompanySize,
    Criterion,
    Department,
    Exclusions,
    IcpProfile,
    RevenueRange,
    Seniority,
    Tiers,
    VersionedProfile,
)

__all__ = ["ScoringRepository", "profile_document", "profile_from_document"]


def _criterion(criterion: Criterion[Any]) -> Document:
    return {"values": [str(value) for value in criterion.values], "weight": criterion.weight}


def profile_document(profile: IcpProfile) -> Document:
    """A profile as stored: enum values by their public names."""
    exclusions = profile.exclusions
    return {
        **{name: _criterion(criterion) for name, criterion in profile.criteria()},
        "competitors": list(profile.competitors),
        "exclusions": {
            "industries": list(exclusions.industries),
            "title_keywords": list(exclusions.title_keywords),
            "seniorities": [str(value) for value in exclusions.seniorities],
            "company_domains": list(exclusions.company_domains),
            "countries": list(exclusions.countries),
            "penalty": exclusions.penalty,
        },
        "tiers": {"high_priority": profile.tiers.high_priority, "nurture": profile.tiers.nurture},
        "intent_boost_max": profile.intent_boost_max,
    }


def _texts(doc: Document, name: str) -> Criterion[str]:
    part = doc.get(name) or {}
    return Criterion(tuple(part.get("values", ())), int(part.get("weight", 0)))


def profile_from_document(doc: Document) -> IcpProfile:
    def enums(name: str, kind: Any) -> Criterion[Any]:
        part = doc.get(name) or {}
        return Criterion(tuple(kind(value) for value in part.get("values", ())), int(part.get("weight", 0)))

    exclusions = doc.get("exclusions") or {}
    tiers = doc.get("tiers") or {}
    return IcpProfile(
        seniorities=enums("seniorities", Seniority),
        departments=enums("departments", Department),
        title_keywords=_texts(doc, "title_keywords"),
        company_sizes=enums("company_sizes", CompanySize),
        industries=_texts(doc, "industries"),
        revenues=enums("revenues", RevenueRange),
        countries=_texts(doc, "countries"),
        technologies=_texts(doc, "technologies"),
        competitors=tuple(doc.get("competitors", ())),
        exclusions=Exclusions(
            industries=tuple(exclusions.get("industries", ())),
            title_keywords=tuple(exclusions.get("title_keywords", ())),
            seniorities=tuple(Seniority(value) for value in exclusions.get("seniorities", ())),
            company_domains=tuple(exclusions.get("company_domains", ())),
            countries=tuple(exclusions.get("countries", ())),
            penalty=int(exclusions.get("penalty", 100)),
        ),
        tiers=Tiers(int(tiers.get("high_priority", 80)), int(tiers.get("nurture", 50))),
        intent_boost_max=int(doc.get("intent_boost_max", 0)),
    )


def _versioned(doc: Document) -> VersionedProfile:
    return VersionedProfile(
        account_id=doc["account_id"],
        version=doc["version"],
        profile=profile_from_document(doc["profile"]),
        create_time=as_datetime(doc["create_time"]) or utc_now(),
        is_default=bool(doc.get("is_default", False)),
    )


class ScoringRepository:
    def __init__(self, db: AsyncDatabase[Document]):
        self.db = db
        self.profiles = db["scoring_icp_profiles"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self.profiles, [IndexSpec([("account_id", 1), ("version", -1)], unique=True)])

    async def latest(self, account_id: str) -> VersionedProfile | None:
        doc = await self.profiles.find_one({"account_id": account_id}, sort=[("version", -1)])
        return None if doc is None else _versioned(doc)

    async def get(self, account_id: str, version: int) -> VersionedProfile | None:
        doc = await self.profiles.find_one({"account_id": account_id, "version": version})
        return None if doc is None else _versioned(doc)

    async def insert(self, profile: VersionedProfile) -> bool:
        """Stores a new version; False when that version of the account already exists."""
        doc = {
            "_id": new_id("icp"),
            "account_id": profile.account_id,
            "version": profile.version,
            "profile": profile_document(profile.profile),
            "is_default": profile.is_default,
            "create_time": profile.create_time,
        }
        try:
            await self.profiles.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def list(self, account_id: str, below_version: int | None, limit: int) -> list[VersionedProfile]:
        """Versions newest first, those below ``below_version`` when it is given."""
        query: dict[str, Any] = {"account_id": account_id}
        if below_version is not None:
            query["version"] = {"$lt": below_version}
        cursor = self.profiles.find(query).sort("version", -1).limit(limit)
        return [_versioned(doc) async for doc in cursor]
