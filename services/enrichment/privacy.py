"""Where enrichment keeps people: its stored records. An erased person's records stay (they were
billed) with the person blanked: the input's person fields, the person, the email verdict, and
any contact that is them."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.mongo import Document
from libs.privacy import DataSubject, Holding, PersonalData, mentions, needles, rewrite_mentioning
from services.enrichment.repository import COLLECTION

__all__ = ["declared", "erased_record"]

_INPUT_PERSON = ("email", "first_name", "last_name", "full_name", "linkedin_url")


def erased_record(record: pb.EnrichmentRecord, forms: Sequence[str]) -> pb.EnrichmentRecord:
    """``record`` without the person ``forms`` name (the company, the charge and the meta stay)."""
    blanked = pb.EnrichmentRecord()
    blanked.CopyFrom(record)
    if mentions(record.input.SerializeToString(), forms) or mentions(record.lead.SerializeToString(), forms):
        for name in _INPUT_PERSON:
            blanked.input.ClearField(name)  # type: ignore[arg-type]
        blanked.lead.ClearField("person")
        blanked.lead.ClearField("email_verdict")
        blanked.lead.ClearField("icp")
    kept = [c for c in record.contacts if not mentions(c.SerializeToString(), forms)]
    del blanked.contacts[:]
    blanked.contacts.extend(kept)
    return blanked


def declared() -> PersonalData:
    async def erase_records(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
        forms = needles(people)

        def rewrite(document: Document) -> Document:
            record = erased_record(pb.EnrichmentRecord.FromString(bytes(document["record"])), forms)
            return {**document, "record": record.SerializeToString()}

        return await rewrite_mentioning(db[COLLECTION], forms, rewrite)

    return PersonalData(service="enrichment", holdings=(Holding(COLLECTION, erase_records),))
