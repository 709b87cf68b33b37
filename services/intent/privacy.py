"""Where intent keeps people: first-party web events name their visitor (``intent_events``), and
the answers kept for retried RecordEvents calls may quote one (``intent_event_requests``). What
a company's own pages and job boards said (``intent_companies``) is about companies, but a page
may print a person's address: it is blanked there too. The refresh schedule names companies only.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from libs.privacy import (
    DataSubject,
    Holding,
    PersonalData,
    blank_mentions,
    delete_mentioning,
    needles,
    rewrite_mentioning,
)

__all__ = ["declared"]

EVENTS, REQUESTS, COMPANIES, SCHEDULE = (
    "intent_events",
    "intent_event_requests",
    "intent_companies",
    "intent_refresh_schedule",
)


def _deleting(collection: str) -> Holding:
    async def erase(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
        return await delete_mentioning(db[collection], needles(people))

    return Holding(collection, erase)


async def _blank_companies(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
    forms = needles(people)
    return await rewrite_mentioning(db[COMPANIES], forms, lambda doc: blank_mentions(doc, forms))


def declared() -> PersonalData:
    return PersonalData(
        service="intent",
        holdings=(_deleting(EVENTS), _deleting(REQUESTS), Holding(COMPANIES, _blank_companies)),
        no_personal_data=frozenset({SCHEDULE}),
    )
