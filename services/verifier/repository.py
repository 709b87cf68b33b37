"""The verifier's cache collections: one verdict per address and the findings per domain, each
document expiring at its own ``expire_time`` (checked on read; :meth:`VerdictCache.purge_expired`
deletes expired ones, run periodically by the server). No other service reads them.

Reads and writes are batched: one ``$in`` query per collection and batch, one bulk write. What
this replica read or wrote is also kept in-process for up to MEMORY_TTL seconds (never past the
stored expiry), so a repeated address or domain costs no store read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document, as_datetime, ensure_expiry_index, purge_expired, utc_now
from libs.ttlcache import TtlCache
from services.verifier.domain import Check, DomainFacts, DomainOutcome, EmailStatus, MailHost, Verdict

__all__ = ["VerdictCache"]

T = TypeVar("T")

ADDRESSES = "verifier_addresses"
DOMAINS = "verifier_domains"
MEMORY_TTL = 300.0
MEMORY_ADDRESSES = 20_000
MEMORY_DOMAINS = 5_000


class VerdictCache:
    def __init__(self, db: AsyncDatabase[Document], address_ttl: int, domain_ttl: int, negative_ttl: int):
        self.addresses = db[ADDRESSES]
        self.domains = db[DOMAINS]
        self.address_ttl = timedelta(seconds=address_ttl)
        self.domain_ttl = timedelta(seconds=domain_ttl)
        self.negative_ttl = timedelta(seconds=negative_ttl)
        # key -> (expire_time, value), as stored
        self._verdicts: TtlCache[str, tuple[datetime, Verdict]] = TtlCache(MEMORY_TTL, MEMORY_ADDRESSES)
        self._domains: TtlCache[str, tuple[datetime, DomainFacts]] = TtlCache(MEMORY_TTL, MEMORY_DOMAINS)

    async def ensure_indexes(self) -> None:
        await ensure_expiry_index(self.addresses, "expire_time")
        await ensure_expiry_index(self.domains, "expire_time")

    async def purge_expired(self) -> int:
        """Deletes the expired verdicts and domain findings; returns how many."""
        return await purge_expired(self.addresses, "expire_time") + await purge_expired(
            self.domains, "expire_time"
        )

    def forget(self, address: str) -> None:
        """Drops this process's copy of an address's verdict (an erasure)."""
        self._verdicts.drop(address)

    # reads

    async def verdicts(self, keys: Collection[str]) -> dict[str, Verdict]:
        """Unexpired cached verdicts by key (the address as probed); expired ones may still be
        stored until the next purge."""
        return await _read(self.addresses, self._verdicts, keys, _verdict)

    async def domain_facts(self, domains: Collection[str]) -> dict[str, DomainFacts]:
        return await _read(self.domains, self._domains, domains, _facts)

    # writes

    async def save(self, verdicts: dict[str, Verdict], domains: Iterable[DomainFacts]) -> None:
        now = utc_now()
        if verdicts and self.address_ttl:
            expire = now + self.address_ttl
            await self.addresses.bulk_write(
                [
                    ReplaceOne({"_id": key}, _verdict_doc(key, verdict, expire), upsert=True)
                    for key, verdict in verdicts.items()
                ],
                ordered=False,
            )
            for key, verdict in verdicts.items():
                self._verdicts.put(key, (expire, verdict))
        domain_writes, kept = [], []
        for facts in domains:
            ttl = self.domain_ttl if facts.outcome is DomainOutcome.ROUTABLE else self.negative_ttl
            if ttl:
                domain_writes.append(
                    ReplaceOne({"_id": facts.domain}, _facts_doc(facts, now, now + ttl), upsert=True)
                )
                kept.append((facts, now + ttl))
        if domain_writes:
            await self.domains.bulk_write(domain_writes, ordered=False)
            for facts, expire in kept:
                self._domains.put(facts.domain, (expire, facts))


def _alive(doc: Document, now: datetime) -> datetime | None:
    """The document's expiry when it has not passed (expired documents wait for the purge)."""
    expire = as_datetime(doc.get("expire_time"))
    return expire if expire is not None and expire > now else None


async def _read(
    collection: AsyncCollection[Document],
    memory: TtlCache[str, tuple[datetime, T]],
    keys: Collection[str],
    convert: Callable[[Document], T],
) -> dict[str, T]:
    """The unexpired entries of ``keys``: from memory, the rest from the store (then remembered)."""
    now = utc_now()
    found: dict[str, T] = {}
    for key in keys:
        hit = memory.get(key)
        if hit is not None and hit[0] > now:
            found[key] = hit[1]
    wanted = [key for key in keys if key not in found]
    if wanted:
        async for doc in collection.find({"_id": {"$in": wanted}}):
            if (expire := _alive(doc, now)) is not None:
                found[doc["_id"]] = convert(doc)
                memory.put(doc["_id"], (expire, found[doc["_id"]]))
    return found


def _verdict_doc(key: str, verdict: Verdict, expire_time: datetime) -> Document:
    return {
        "_id": key,
        "status": verdict.status.value,
        "decided_by": verdict.decided_by.value,
        "reason": verdict.reason,
        "normalized_email": verdict.normalized_email,
        "domain": verdict.domain,
        "mx_hosts": list(verdict.mx_hosts),
        "is_disposable": verdict.is_disposable,
        "is_role_account": verdict.is_role_account,
        "is_free_provider": verdict.is_free_provider,
        "is_catch_all": verdict.is_catch_all,
        "mailbox_full": verdict.mailbox_full,
        "smtp_checked": verdict.smtp_checked,
        "smtp_code": verdict.smtp_code,
        "enhanced_status_code": verdict.enhanced_status_code,
        "smtp_message": verdict.smtp_message,
        "checked_time": verdict.checked_time,
        "expire_time": expire_time,
    }


def _verdict(doc: Document) -> Verdict:
    return Verdict(
        email=doc["normalized_email"],
        status=EmailStatus(doc["status"]),
        decided_by=Check(doc["decided_by"]),
        reason=doc["reason"],
        checked_time=as_datetime(doc["checked_time"]) or utc_now(),
        normalized_email=doc["normalized_email"],
        syntax_ok=True,
        domain=doc["domain"],
        mx_hosts=tuple(doc.get("mx_hosts", ())),
        is_disposable=doc["is_disposable"],
        is_role_account=doc["is_role_account"],
        is_free_provider=doc["is_free_provider"],
        is_catch_all=doc["is_catch_all"],
        mailbox_full=doc["mailbox_full"],
        smtp_checked=doc["smtp_checked"],
        smtp_code=doc["smtp_code"],
        enhanced_status_code=doc["enhanced_status_code"],
        smtp_message=doc["smtp_message"],
    )


def _facts_doc(facts: DomainFacts, now: datetime, expire_time: datetime) -> Document:
    hosts: list[dict[str, Any]] = [
        {"name": host.name, "preference": host.preference, "addresses": list(host.addresses)}
        for host in facts.hosts
    ]
    return {
        "_id": facts.domain,
        "outcome": facts.outcome.value,
        "hosts": hosts,
        "is_disposable": facts.is_disposable,
        "is_free_provider": facts.is_free_provider,
        "catch_all": facts.catch_all,
        "detail": facts.detail,
        "checked_time": now,
        "expire_time": expire_time,
    }


def _facts(doc: Document) -> DomainFacts:
    return DomainFacts(
        domain=doc["_id"],
        outcome=DomainOutcome(doc["outcome"]),
        hosts=tuple(
            MailHost(host["name"], int(host["preference"]), tuple(host["addresses"])) for host in doc["hosts"]
        ),
        is_disposable=doc["is_disposable"],
        is_free_provider=doc["is_free_provider"],
        catch_all=doc.get("catch_all"),
        detail=doc.get("detail", ""),
    )
