"""``leadmesh.privacy.v1.PrivacyService`` for any service: erases the people of a request from
each collection the service declared (:class:`libs.privacy.PersonalData`), in order, and logs the
counts (never the addresses) as the service's audit line."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.privacy.v1 import privacy_service_pb2 as pb
from leadmesh.privacy.v1 import privacy_service_pb2_grpc as pb_grpc
from libs.caller_auth import method_scopes
from libs.errors import InvalidArgument
from libs.mongo import Document
from libs.privacy import DataSubject, PersonalData, subject

__all__ = [
    "MAX_SUBJECTS",
    "PRIVACY_SCOPES",
    "PRIVACY_SERVICE",
    "PrivacyServicer",
    "privacy_service",
    "subjects_of",
]

PRIVACY_SERVICE = "leadmesh.privacy.v1.PrivacyService"
# The scope of each RPC, for the scope table of every service that serves it.
PRIVACY_SCOPES = method_scopes(PRIVACY_SERVICE, {"ErasePersonalData": "privacy:admin"})
MAX_SUBJECTS = 1000

log = logging.getLogger("leadmesh.privacy")

# Runs before the collections are erased (providers: suppress the people first, so that nothing
# brings them back while the erasure runs), with the request.
BeforeErasure = Callable[[Sequence[DataSubject], pb.ErasePersonalDataRequest], Awaitable[None]]


def subjects_of(request: pb.ErasePersonalDataRequest) -> list[DataSubject]:
    if not request.subjects:
        raise InvalidArgument("subjects must not be empty", reason="SUBJECTS_REQUIRED")
    if len(request.subjects) > MAX_SUBJECTS:
        raise InvalidArgument(f"at most {MAX_SUBJECTS} subjects per call", reason="TOO_MANY_SUBJECTS")
    return [subject(s.email, s.linkedin_url) for s in request.subjects]


class PrivacyServicer(pb_grpc.PrivacyServiceServicer):
    def __init__(
        self, db: AsyncDatabase[Document], declared: PersonalData, before: BeforeErasure | None = None
    ):
        self.db = db
        self.declared = declared
        self.before = before

    async def ErasePersonalData(
        self, request: pb.ErasePersonalDataRequest, context: Any
    ) -> pb.ErasePersonalDataResponse:
        people = subjects_of(request)
        if self.before is not None:
            await self.before(people, request)
        response = pb.ErasePersonalDataResponse()
        for holding in self.declared.holdings:
            items = await holding.erase(self.db, people)
            response.erased.add(collection=holding.collection, items=items)
        log.info(
            "personal data erased",
            extra={
                "erasure_id": request.erasure_id,
                "operator": request.operator,
                "subjects": len(people),
                "erased": {e.collection: e.items for e in response.erased},
            },
        )
        return response


def privacy_service(
    db: AsyncDatabase[Document], declared: PersonalData, before: BeforeErasure | None = None
) -> tuple[str, Callable[[grpc.aio.Server], None]]:
    """The entry of a ``GrpcServer``'s ``services`` that serves PrivacyService."""
    servicer = PrivacyServicer(db, declared, before)
    return PRIVACY_SERVICE, lambda server: pb_grpc.add_PrivacyServiceServicer_to_server(servicer, server)
