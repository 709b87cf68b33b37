"""The monthly free tier through CreditLedger on the embedded store, with a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from libs.errors import FailedPrecondition
from libs.mongo import Document
from services.billing.domain import EntryKind
from services.billing.ledger import CreditLedger
from services.billing.repository import BillingRepository

FREE_TIER = 30


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Billing:
    repository: BillingRepository
    ledger: CreditLedger
    clock: Clock

    async def new_account(self) -> str:
        return (await self.repository.insert_account("Acme")).account_id

    async def grant_keys(self, account_id: str) -> list[str]:
        entries = await self.repository.list_entries(account_id, None, 1000)
        return sorted(e.idempotency_key for e in entries if e.kind == EntryKind.FREE_TIER_GRANT)


@pytest_asyncio.fixture
async def domain(db: AsyncDatabase[Document]) -> AsyncIterator[Billing]:
    repository = BillingRepository(db)
    await repository.ensure_indexes()
    clock = Clock(datetime(2025, 1, 15, 12, 0, tzinfo=UTC))
    yield Billing(repository, CreditLedger(repository, FREE_TIER, clock=clock), clock)


async def test_a_new_account_gets_the_free_tier_once_however_often_it_is_read(domain: Billing) -> None:
    account_id = await domain.new_account()
    for _ in range(5):
        assert (await domain.ledger.balance(account_id)).balance == FREE_TIER
    domain.clock.now = datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert (await domain.ledger.balance(account_id)).balance == FREE_TIER
    assert await domain.grant_keys(account_id) == ["lm:free_tier:2025-01"]
    account = await domain.ledger.account(account_id)
    assert account.free_tier_period == "2025-01"


async def test_twenty_concurrent_reads_of_a_due_account_grant_once_month_after_month(domain: Billing) -> None:
    """The first month of a new account, then each new month of a year: 20 requests read the
    balance at once while the grant is due, and exactly one grant lands."""
    account_id = await domain.new_account()
    for month in range(1, 13):
        domain.clock.now = datetime(2025, month, 1, 0, 0, 1, tzinfo=UTC)
        balances = await asyncio.gather(*(domain.ledger.balance(account_id) for _ in range(20)))
        expected = month * FREE_TIER
        assert [b.balance for b in balances] == [expected] * 20, f"2025-{month:02d}"
        assert (await domain.ledger.balance(account_id)).balance == expected, f"2025-{month:02d}"
    assert await domain.grant_keys(account_id) == [f"lm:free_tier:2025-{m:02d}" for m in range(1, 13)]


async def test_the_next_month_grants_thirty_more_exactly_once(domain: Billing) -> None:
    account_id = await domain.new_account()
    assert (await domain.ledger.balance(account_id)).balance == FREE_TIER
    domain.clock.now = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)
    for _ in range(3):
        assert (await domain.ledger.balance(account_id)).balance == 2 * FREE_TIER
    assert await domain.grant_keys(account_id) == ["lm:free_tier:2025-01", "lm:free_tier:2025-02"]


async def test_a_charge_as_the_first_thing_in_a_month_draws_on_the_fresh_grant(domain: Billing) -> None:
    account_id = await domain.new_account()
    spent = await domain.ledger.charge(account_id, "jan", FREE_TIER)
    assert spent.balance == 0
    with pytest.raises(FailedPrecondition) as caught:
        await domain.ledger.charge(account_id, "jan-more", 1)
    assert caught.value.reason == "INSUFFICIENT_CREDITS"

    domain.clock.now = datetime(2025, 2, 1, 0, 0, 1, tzinfo=UTC)
    posted = await domain.ledger.charge(account_id, "feb", 10)
    assert not posted.replayed
    assert posted.balance == FREE_TIER - 10
    assert (await domain.ledger.balance(account_id)).balance == FREE_TIER - 10
    assert await domain.grant_keys(account_id) == ["lm:free_tier:2025-01", "lm:free_tier:2025-02"]


async def test_concurrent_charges_as_the_first_thing_in_a_month_all_draw_on_one_grant(
    domain: Billing,
) -> None:
    """Each month starts at a zero balance; ten requests at once spend that month's grant exactly."""
    account_id = await domain.new_account()
    await domain.ledger.charge(account_id, "2025-01", FREE_TIER)
    for month in range(2, 13):
        domain.clock.now = datetime(2025, month, 1, 0, 0, 1, tzinfo=UTC)
        outcomes = await asyncio.gather(
            *(domain.ledger.charge(account_id, f"2025-{month:02d}:{n}", 3) for n in range(10)),
            return_exceptions=True,
        )
        assert [repr(o) for o in outcomes if isinstance(o, BaseException)] == [], f"2025-{month:02d}"
        assert (await domain.ledger.balance(account_id)).balance == 0, f"2025-{month:02d}"
    assert await domain.grant_keys(account_id) == [f"lm:free_tier:2025-{m:02d}" for m in range(1, 13)]


async def test_an_account_idle_for_three_months_gets_one_grant_not_three(domain: Billing) -> None:
    account_id = await domain.new_account()
    await domain.ledger.balance(account_id)
    domain.clock.now = datetime(2025, 4, 20, 9, 30, tzinfo=UTC)
    assert (await domain.ledger.balance(account_id)).balance == 2 * FREE_TIER
    assert (await domain.ledger.balance(account_id)).balance == 2 * FREE_TIER
    assert await domain.grant_keys(account_id) == ["lm:free_tier:2025-01", "lm:free_tier:2025-04"]


async def test_grants_follow_the_utc_calendar_month_across_a_year_end(domain: Billing) -> None:
    account_id = await domain.new_account()
    domain.clock.now = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    await domain.ledger.balance(account_id)
    domain.clock.now = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert (await domain.ledger.balance(account_id)).balance == 2 * FREE_TIER
    entries = await domain.repository.list_entries(account_id, None, 100)
    grants = [(e.idempotency_key, e.amount) for e in entries if e.kind == EntryKind.FREE_TIER_GRANT]
    assert sorted(grants) == [("lm:free_tier:2025-12", FREE_TIER), ("lm:free_tier:2026-01", FREE_TIER)]
