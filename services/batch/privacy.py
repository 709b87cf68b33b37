"""Where batch keeps people: the input rows of CSV jobs (``batch_rows``) and their results
(``batch_results``). The row of an erased person stays, so that the job's counts and credits do
not change, with every cell blanked, in the input and in the result. A job's own document, its
chunks' errors and its request ids hold file names, counts and messages; a person's address is
blanked there too, should one have been quoted."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from libs.mongo import Document
from libs.privacy import (
    DataSubject,
    Holding,
    PersonalData,
    blank_mentions,
    mentioning,
    needles,
    rewrite_mentioning,
)

__all__ = ["declared"]

ROWS, RESULTS, JOBS, CHUNK_ERRORS = "batch_rows", "batch_results", "batch_jobs", "batch_chunk_errors"
_EMPTY_LEAD = common.LeadInput().SerializeToString()


def _blank_row(document: Document) -> Document:
    blanked = {**document, "cells": ["" for _ in document.get("cells") or []]}
    if "lead" in blanked:
        blanked["lead"] = _EMPTY_LEAD
    return blanked


def _blank_fields(document: Document) -> Document:
    return {name: value for name, value in _blank_row(document).items() if name != "_id"}


async def _erase_rows(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
    rows = await mentioning(db[ROWS], needles(people))
    for row in rows:
        await db[ROWS].update_one({"_id": row["_id"]}, {"$set": _blank_fields(row)})
    # The rows' results (same ids) go blank with them, whatever they say.
    async for result in db[RESULTS].find({"_id": {"$in": [row["_id"] for row in rows]}}):
        await db[RESULTS].update_one({"_id": result["_id"]}, {"$set": _blank_fields(result)})
    return len(rows)


async def _erase_results(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
    # Results that name the person on a row that did not (a name + company input found them).
    return await rewrite_mentioning(db[RESULTS], needles(people), _blank_row)


def _blanking(collection: str) -> Holding:
    async def erase(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
        forms = needles(people)
        return await rewrite_mentioning(db[collection], forms, lambda doc: blank_mentions(doc, forms))

    return Holding(collection, erase)


def declared() -> PersonalData:
    return PersonalData(
        service="batch",
        holdings=(
            Holding(ROWS, _erase_rows),
            Holding(RESULTS, _erase_results),
            _blanking(JOBS),
            _blanking(CHUNK_ERRORS),
        ),
        no_personal_data=frozenset({"batch_requests", "batch_chunks", "batch_webhook_secrets"}),
    )
