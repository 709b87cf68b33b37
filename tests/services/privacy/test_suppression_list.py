"""The providers' suppression list and what it keeps out: vendor answers naming an erased
person are not cached, and the list answers by keyed hash for every account or one."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from libs.privacy import SubjectHasher, mentions, subject
from services.providers.cache import MongoLookupCache
from services.providers.domain.models import ProviderMatch
from services.providers.suppressions import SuppressionList

SECRET = "a-test-secret-of-some-length"


async def test_a_vendor_answer_naming_an_erased_person_is_not_cached(db: AsyncDatabase[Document]) -> None:
    suppressions = SuppressionList(db, SubjectHasher(SECRET))
    await suppressions.ensure_indexes()
    await suppressions.suppress_people([subject(email="gone@acme.com")])
    cache = MongoLookupCache(db, suppressions.erased)
    person = ProviderMatch(0.9, {"email": "GONE@acme.com", "first_name": "Gone"}, {}, {}, (), None)
    company = ProviderMatch(
        0.9, {}, {"domain": "acme.com"}, {}, ({"email": "gone@acme.com"}, {"email": "kept@acme.com"}), None
    )
    await cache.put_many("vendor", [("email:gone@acme.com", person), ("domain:acme.com", company)], 60)
    stored = await db["providers_cache"].find({}).to_list(None)
    assert len(stored) == 1 and not mentions(stored, ("gone@acme.com",))
    assert mentions(stored, ("kept@acme.com",))


async def test_the_list_holds_hashes_per_account_and_for_everyone(db: AsyncDatabase[Document]) -> None:
    suppressions = SuppressionList(db, SubjectHasher(SECRET))
    await suppressions.ensure_indexes()
    await suppressions.add("acct_a", ["jane@acme.com"], ["globex.com"])
    await suppressions.suppress_people([subject(linkedin_url="linkedin.com/in/erased-person")])
    assert suppressions.blocks("acct_a", email="Jane@Acme.com")
    assert not suppressions.blocks("acct_b", email="jane@acme.com")
    assert suppressions.blocks("acct_a", email="anyone@globex.com")
    assert suppressions.blocks("acct_a", domain="www.globex.com")
    assert suppressions.blocks("acct_b", linkedin_url="https://uk.linkedin.com/in/Erased-Person/")
    # Another replica sees them after a reload; nothing in the store names anyone.
    other = SuppressionList(db, SubjectHasher(SECRET))
    assert not other.blocks("acct_a", email="jane@acme.com")
    await other.reload()
    assert other.blocks("acct_a", email="jane@acme.com")
    stored = await db["providers_suppressions"].find({}).to_list(None)
    assert not mentions(stored, ("jane@acme.com", "erased-person"))
    # Another secret makes other hashes: the list cannot be tested without it.
    guessing = SuppressionList(db, SubjectHasher("some-other-secret-value"))
    await guessing.reload()
    assert not guessing.blocks("acct_a", email="jane@acme.com")
