"""Where the verifier keeps people: the cached verdicts of addresses (``verifier_addresses``).
Domains' findings (``verifier_domains``) name no one."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from libs.privacy import DataSubject, Holding, PersonalData, delete_mentioning, needles
from services.verifier.repository import ADDRESSES, DOMAINS, VerdictCache

__all__ = ["declared"]


def declared(cache: VerdictCache) -> PersonalData:
    async def erase_verdicts(db: AsyncDatabase[Document], people: Sequence[DataSubject]) -> int:
        for person in people:
            if person.email:
                cache.forget(person.email)
        return await delete_mentioning(db[ADDRESSES], needles(people))

    return PersonalData(
        service="verifier",
        holdings=(Holding(ADDRESSES, erase_verdicts),),
        no_personal_data=frozenset({DOMAINS}),
    )
