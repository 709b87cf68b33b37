"""The register of the credentials operators issue to internal teams: the ``grpc_clients``
collection.

``leadmesh clients create`` records a client (its id, name, scopes, when it was created) and
prints its credential once: the credential itself is never stored. ``leadmesh clients revoke``
marks it revoked; every gRPC server re-reads the revoked ids every few seconds
(:class:`libs.caller_auth.CallerAuth`). The collection belongs to the kit: every service may read
it, only the operator's CLI writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from libs.credentials import SigningKey, new_client_id
from libs.errors import InvalidArgument, NotFound
from libs.mongo import Document, as_datetime, utc_now

__all__ = ["COLLECTION", "ClientRecord", "GrpcClients"]

COLLECTION = "grpc_clients"


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    name: str
    scopes: list[str]
    create_time: datetime
    revoke_time: datetime | None = None
    account_id: str | None = None

    @classmethod
    def of(cls, document: Document) -> ClientRecord:
        created = as_datetime(document["create_time"])
        assert created is not None
        return cls(
            client_id=document["_id"],
            name=document["name"],
            scopes=list(document["scopes"]),
            create_time=created,
            revoke_time=as_datetime(document.get("revoke_time")),
            account_id=document.get("account_id") or None,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "scopes": self.scopes,
            "account_id": self.account_id,
            "create_time": self.create_time.isoformat(),
            "revoked": self.revoke_time is not None,
            "revoke_time": self.revoke_time.isoformat() if self.revoke_time else None,
        }


class GrpcClients:
    def __init__(self, db: AsyncDatabase[Document]):
        self.collection = db[COLLECTION]

    async def create(
        self,
        signing_key: SigningKey,
        name: str,
        scopes: Iterable[str],
        known_scopes: Iterable[str],
        account_id: str | None = None,
    ) -> tuple[ClientRecord, str]:
        """Records a new client and returns it with its credential (shown once, never stored),
        bound to ``account_id`` when given."""
        wanted = sorted({scope.strip() for scope in scopes if scope.strip()})
        unknown = sorted(set(wanted) - set(known_scopes))
        if not name.strip():
            raise InvalidArgument("a client needs a name", reason="NAME_MISSING")
        if not wanted or unknown:
            raise InvalidArgument(
                f"unknown or missing scopes {unknown}; known: {', '.join(sorted(known_scopes))}",
                reason="SCOPE_UNKNOWN",
            )
        record = ClientRecord(new_client_id(name), name.strip(), wanted, utc_now(), None, account_id or None)
        await self.collection.insert_one(
            {
                "_id": record.client_id,
                "name": record.name,
                "scopes": wanted,
                "create_time": record.create_time,
                "revoked": False,
                "account_id": record.account_id,
            }
        )
        return record, signing_key.issue(record.client_id, wanted, account_id=record.account_id)

    async def all(self) -> list[ClientRecord]:
        return [ClientRecord.of(doc) async for doc in self.collection.find({}).sort("create_time", 1)]

    async def revoke(self, client_id: str) -> ClientRecord:
        """Marks ``client_id`` revoked (again is a no-op that keeps the first revocation time)."""
        await self.collection.update_one(
            {"_id": client_id, "revoked": False}, {"$set": {"revoked": True, "revoke_time": utc_now()}}
        )
        document = await self.collection.find_one({"_id": client_id})
        if document is None:
            raise NotFound(
                f"no client {client_id!r}; `leadmesh clients list` shows them", reason="CLIENT_NOT_FOUND"
            )
        return ClientRecord.of(document)

    async def revoked_ids(self) -> list[str]:
        return [doc["_id"] async for doc in self.collection.find({"revoked": True}, {"_id": 1})]
