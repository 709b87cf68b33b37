"""CreditLedger, billing's use cases: balances, charges, credits, the monthly free tier, the
ledger's pages and recovery; reservations are its other half, :mod:`services.billing.reservations`.

Requests are checked by the rules of :mod:`services.billing.domain.charges` and posted exactly
once by :class:`services.billing.postings.Postings`. An account's charges made while others are
under way are coalesced (:class:`libs.coalesce.Coalescer`) and posted together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from libs.coalesce import Coalescer
from libs.errors import LeadmeshError, NotFound
from libs.ids import decode_page_token, encode_page_token, page_size
from services.billing.domain import (
    INTERNAL_KEY_PREFIX,
    MAX_BATCH_ITEMS,
    Account,
    Balance,
    ChargeItem,
    EntryKind,
    FreeTierDue,
    LedgerEntry,
    NewEntry,
    Posted,
    UsageDay,
    billing_period,
    charge_entries,
    check_account_id,
    check_amount,
    check_key,
    tally_usage,
    usage_since,
)
from services.billing.repository import BillingRepository
from services.billing.reservations import CREDITS_CHARGED, ReservationLedger

__all__ = ["CreditLedger"]


class CreditLedger(ReservationLedger):
    """An account's credits; ``charge_limit`` charges of one account are posted at once, those
    made meanwhile wait and go together."""

    def __init__(
        self,
        repository: BillingRepository,
        free_tier_credits: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        charge_limit: int = 1,
    ):
        self.repository = repository
        self.free_tier_credits = free_tier_credits
        self.clock = clock
        # Alone at once while a slot is free (same_turn=False): a charge of a retried key may wait
        # for the poster of its group (entry_postings._finish_marked), and merged with the other
        # charges of its turn it would hold them, and they it, in one sequential pass.
        self._charges = Coalescer(
            "ledger.charge",
            self._charge_together,
            limit=charge_limit,
            max_items=MAX_BATCH_ITEMS,
            same_turn=False,
        )

    # accounts and the free tier

    async def account(self, account_id: str) -> Account:
        """The account, its free tier for this month granted first if due."""
        account = await self.repository.get_account(check_account_id(account_id))
        if account is None:
            raise NotFound(f"account {account_id} not found", reason="ACCOUNT_NOT_FOUND")
        period = billing_period(self.clock())
        if account.free_tier_period == period:
            return account
        await self.grant_free_tier(account_id, period)
        refreshed = await self.repository.get_account(account_id)
        assert refreshed is not None, "accounts are never deleted"
        return refreshed

    async def grant_free_tier(self, account_id: str, period: str) -> None:
        """Grants the month's free credits once, however often it is called."""
        if self.free_tier_credits > 0:
            await self.repository.postings.post(
                NewEntry(
                    account_id=account_id,
                    idempotency_key=f"{INTERNAL_KEY_PREFIX}free_tier:{period}",
                    kind=EntryKind.FREE_TIER_GRANT,
                    amount=self.free_tier_credits,
                    description=f"Free tier {period}",
                )
            )
        await self.repository.mark_free_tier_granted(account_id, period)

    async def balance(self, account_id: str) -> Balance:
        account = await self.account(account_id)
        reserved = await self.repository.reserved_total(account_id)
        return Balance(account=account, balance=account.balance, reserved=reserved)

    async def entries(self, account_id: str, size: int, token: str) -> tuple[list[LedgerEntry], str]:
        """A page of the account's ledger, newest first, and the token of the next page."""
        limit = page_size(size)
        after = decode_page_token(token) if token else None
        await self.account(account_id)
        entries = await self.repository.list_entries(account_id, after, limit + 1)
        next_token = encode_page_token(entries[limit - 1].sort_key) if len(entries) > limit else ""
        return entries[:limit], next_token

    # movements

    async def usage(self, account_id: str, days: int) -> list[UsageDay]:
        """Leads charged and credits used per UTC day over the last ``days`` days, by source."""
        now = self.clock()
        since = usage_since(now, days)
        await self.account(account_id)
        return tally_usage(since, now, await self.repository.usage_entries(account_id, since))

    async def charge(self, account_id: str, key: str, amount: int, description: str = "") -> Posted:
        """Debits the account once per key. Charges of one account made while others are under
        way are posted together (three store writes for all of them), each with its own outcome."""
        new = NewEntry(
            check_account_id(account_id),
            check_key(key),
            EntryKind.CHARGE,
            -check_amount(amount),
            description,
        )
        outcome = (await self._charges(account_id, [new]))[0]
        if isinstance(outcome, LeadmeshError):
            raise outcome
        if not outcome.replayed:
            CREDITS_CHARGED.add(amount, {"kind": EntryKind.CHARGE.value})
        return outcome

    async def _charge_together(
        self, account_id: str, news: list[NewEntry], timeout: float | None
    ) -> list[Posted | LeadmeshError]:
        """``news`` posted at once, each charge's outcome; those that found the month's free tier
        not granted yet are posted again after granting it."""
        if len(news) == 1:
            return [await self._post_alone(news[0])]
        period = billing_period(self.clock())
        outcomes = await self.repository.postings.post_together(news, free_tier_period=period)
        if any(isinstance(outcome, FreeTierDue) for outcome in outcomes):
            await self.grant_free_tier(account_id, period)
        results: list[Posted | LeadmeshError] = []
        for new, outcome in zip(news, outcomes, strict=True):
            if isinstance(outcome, FreeTierDue):
                results.append(await self._post_alone(new))
            elif isinstance(outcome, LeadmeshError):
                results.append(outcome)
            else:
                results.append(await self._posted(new, *outcome))
        return results

    async def _post_alone(self, new: NewEntry) -> Posted | LeadmeshError:
        try:
            return await self._post_to_account(new)
        except LeadmeshError as error:
            return error

    async def _posted(self, new: NewEntry, entry: LedgerEntry, replayed: bool) -> Posted:
        if replayed:  # the balance now, not the one right after the first posting
            account = await self.account(new.account_id)
            return Posted(entry, account.balance, replayed)
        return Posted(entry, entry.balance_after, replayed)

    async def add_credits(self, account_id: str, key: str, amount: int, description: str = "") -> Posted:
        new = NewEntry(account_id, check_key(key), EntryKind.CREDIT, check_amount(amount), description)
        return await self._post_to_account(new)

    async def initial_credits(self, account_id: str, amount: int) -> Posted:
        new = NewEntry(
            account_id, f"{INTERNAL_KEY_PREFIX}initial_credits", EntryKind.CREDIT, amount, "Initial credits"
        )
        return await self._post_to_account(new)

    async def charge_each(
        self, account_id: str, reservation_id: str, items: Sequence[ChargeItem]
    ) -> list[Posted | LeadmeshError]:
        """Independent charges, each as ``charge`` (or ``charge_reservation``) would make it on
        its own, its outcome in its place; a key given twice is charged once. An invalid item
        (InvalidArgument) charges nothing."""
        news = charge_entries(account_id, reservation_id, items, distinct=False)
        if reservation_id:
            outcomes = await self._post_on_reservation(account_id, news)
        else:
            outcomes = await self._charges(account_id, news)
        for outcome in outcomes:
            if isinstance(outcome, Posted) and not outcome.replayed:
                CREDITS_CHARGED.add(-outcome.entry.amount, {"kind": outcome.entry.kind.value})
        return outcomes

    async def _post_to_account(self, new: NewEntry) -> Posted:
        check_account_id(new.account_id)
        period = billing_period(self.clock())
        try:
            entry, replayed = await self.repository.postings.post(new, free_tier_period=period)
        except FreeTierDue:
            await self.grant_free_tier(new.account_id, period)
            entry, replayed = await self.repository.postings.post(new, free_tier_period=period)
        return await self._posted(new, entry, replayed)

    async def recover(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Finishes what crashes left: unfinished postings, holds never funded, closed
        reservations never refunded."""
        finished = await self.repository.postings.recover(older_than)
        return finished + await self._recover_reservations(older_than)
