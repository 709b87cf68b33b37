"""CreditLedger: balances, charges, credits, the monthly free tier and batch reservations.

Keys that the ledger makes itself start with ``lm:`` (``lm:free_tier:2026-11``,
``lm:reserve:<key>``, ``lm:release:<reservation>``); callers cannot use that prefix, so their
keys never collide with the ledger's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from libs.coalesce import Coalescer
from libs.errors import Conflict, FailedPrecondition, InvalidArgument, LeadmeshError, NotFound
from libs.ids import decode_page_token, encode_page_token, page_size
from libs.telemetry import meter
from services.billing.domain import (
    Account,
    EntryKind,
    LedgerEntry,
    NewEntry,
    Reservation,
    ReservationState,
    billing_period,
)
from services.billing.postings import FreeTierDue
from services.billing.repository import BillingRepository

__all__ = ["Balance", "BatchCharged", "ChargeItem", "CreditLedger", "ItemCharged", "Posted"]

MAX_KEY_LENGTH = 200
MAX_AMOUNT = 1_000_000_000
MAX_BATCH_ITEMS = 1_000
INTERNAL_KEY_PREFIX = "lm:"
_CREDITS_CHARGED = meter("leadmesh.billing").create_counter(
    "leadmesh.credits.charged",
    unit="{credit}",
    description="Credits charged, by kind (charge or reservation_charge)",
)


@dataclass(frozen=True)
class Balance:
    account: Account
    balance: int
    reserved: int


@dataclass(frozen=True)
class Posted:
    entry: LedgerEntry
    balance: int
    replayed: bool


@dataclass(frozen=True)
class ChargeItem:
    """One charge of a batch on a reservation, e.g. a row of a CSV job."""

    idempotency_key: str
    amount: int
    description: str = ""


@dataclass(frozen=True)
class ItemCharged:
    entry: LedgerEntry
    replayed: bool


@dataclass(frozen=True)
class BatchCharged:
    # One per item, in the order of the items.
    results: list[ItemCharged]
    # The reservation's remaining credits afterwards.
    remaining: int


def _check_key(key: str) -> str:
    if not key:
        raise InvalidArgument("idempotency_key is required", reason="IDEMPOTENCY_KEY_REQUIRED")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(f"idempotency_key is longer than {MAX_KEY_LENGTH} characters")
    if key.startswith(INTERNAL_KEY_PREFIX):
        raise InvalidArgument(
            f"idempotency keys starting with {INTERNAL_KEY_PREFIX!r} are reserved",
            reason="IDEMPOTENCY_KEY_RESERVED",
        )
    return key


def _check_amount(amount: int) -> int:
    if amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidArgument(
            f"amount must be between 1 and {MAX_AMOUNT}, got {amount}", reason="INVALID_AMOUNT"
        )
    return amount


def _check_account_id(account_id: str) -> str:
    if not account_id:
        raise InvalidArgument("account_id is required", reason="ACCOUNT_ID_REQUIRED")
    return account_id


def reservation_id_for(account_id: str, key: str) -> str:
    """Deterministic, so a retried Reserve finds the reservation its first attempt made."""
    return "res_" + hashlib.sha256(f"{account_id}\0{key}".encode()).hexdigest()[:24]


class CreditLedger:
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
        self._charges = Coalescer(
            "ledger.charge", self._charge_together, limit=charge_limit, max_items=MAX_BATCH_ITEMS
        )

    # accounts and the free tier

    async def account(self, account_id: str) -> Account:
        """The account, its free tier for this month granted first if due."""
        account = await self.repository.get_account(_check_account_id(account_id))
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

    async def charge(self, account_id: str, key: str, amount: int, description: str = "") -> Posted:
        """Debits the account once per key. Charges of one account made while others are under
        way are posted together (three store writes for all of them), each with its own outcome."""
        new = NewEntry(
            _check_account_id(account_id),
            _check_key(key),
            EntryKind.CHARGE,
            -_check_amount(amount),
            description,
        )
        outcome = (await self._charges(account_id, [new]))[0]
        if isinstance(outcome, LeadmeshError):
            raise outcome
        if not outcome.replayed:
            _CREDITS_CHARGED.add(amount, {"kind": EntryKind.CHARGE.value})
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
        new = NewEntry(account_id, _check_key(key), EntryKind.CREDIT, _check_amount(amount), description)
        return await self._post_to_account(new)

    async def initial_credits(self, account_id: str, amount: int) -> Posted:
        new = NewEntry(
            account_id, f"{INTERNAL_KEY_PREFIX}initial_credits", EntryKind.CREDIT, amount, "Initial credits"
        )
        return await self._post_to_account(new)

    async def charge_reservation(
        self, account_id: str, reservation_id: str, key: str, amount: int, description: str = ""
    ) -> Posted:
        """A charge drawn on a reservation: it lowers the reservation, not the balance."""
        new = NewEntry(
            _check_account_id(account_id),
            _check_key(key),
            EntryKind.RESERVATION_CHARGE,
            -_check_amount(amount),
            description,
            reservation_id=reservation_id,
            draws_on_reservation=True,
        )
        entry, replayed = await self.repository.postings.post(new)
        if not replayed:
            _CREDITS_CHARGED.add(amount, {"kind": EntryKind.RESERVATION_CHARGE.value})
        account = await self.account(account_id)
        return Posted(entry, account.balance, replayed)

    async def charge_reservation_batch(
        self, account_id: str, reservation_id: str, items: Sequence[ChargeItem]
    ) -> BatchCharged:
        """Charges ``items`` on a reservation as ``charge_reservation`` would one after the
        other, in a few writes. An error stops the batch at its item (named by the error's
        ``idempotency_key`` metadata): the items before it stay charged, the later ones are not."""
        news = self._batch_entries(account_id, reservation_id, items)
        results: list[ItemCharged] = []
        try:
            async for entry, replayed in self.repository.postings.post_batch(news):
                if not replayed:
                    _CREDITS_CHARGED.add(-entry.amount, {"kind": EntryKind.RESERVATION_CHARGE.value})
                results.append(ItemCharged(entry, replayed))
        except LeadmeshError as error:
            error.metadata.setdefault("idempotency_key", news[len(results)].idempotency_key)
            raise
        reservation = await self.reservation(account_id, reservation_id)
        return BatchCharged(results, reservation.remaining)

    async def charge_each(
        self, account_id: str, reservation_id: str, items: Sequence[ChargeItem]
    ) -> list[Posted | LeadmeshError]:
        """Independent charges, each as ``charge`` (or ``charge_reservation``) would make it on
        its own, its outcome in its place; a key given twice is charged once. An invalid item
        (InvalidArgument) charges nothing."""
        news = self._entries(account_id, reservation_id, items, distinct=False)
        if reservation_id:
            outcomes = await self._post_on_reservation(account_id, news)
        else:
            outcomes = await self._charges(account_id, news)
        for outcome in outcomes:
            if isinstance(outcome, Posted) and not outcome.replayed:
                _CREDITS_CHARGED.add(-outcome.entry.amount, {"kind": outcome.entry.kind.value})
        return outcomes

    async def _post_on_reservation(
        self, account_id: str, news: list[NewEntry]
    ) -> list[Posted | LeadmeshError]:
        posted = await self.repository.postings.post_together(news)
        # The balance, read once; none went through when the account is unknown (each item then
        # fails as its own Charge would: RESERVATION_NOT_FOUND).
        went = any(isinstance(outcome, tuple) for outcome in posted)
        balance = (await self.account(account_id)).balance if went else 0
        results: list[Posted | LeadmeshError] = []
        for outcome in posted:
            assert not isinstance(outcome, FreeTierDue), "charges on a reservation never wait for it"
            results.append(Posted(outcome[0], balance, outcome[1]) if isinstance(outcome, tuple) else outcome)
        return results

    @staticmethod
    def _batch_entries(account_id: str, reservation_id: str, items: Sequence[ChargeItem]) -> list[NewEntry]:
        if not reservation_id:
            raise InvalidArgument("reservation_id is required", reason="RESERVATION_ID_REQUIRED")
        return CreditLedger._entries(account_id, reservation_id, items, distinct=True)

    @staticmethod
    def _entries(
        account_id: str, reservation_id: str, items: Sequence[ChargeItem], *, distinct: bool
    ) -> list[NewEntry]:
        """The charges of ``items``, on the reservation if one is given, else on the account."""
        _check_account_id(account_id)
        if not items:
            raise InvalidArgument("at least one item is required", reason="ITEMS_REQUIRED")
        if len(items) > MAX_BATCH_ITEMS:
            raise InvalidArgument(
                f"at most {MAX_BATCH_ITEMS} items per batch, got {len(items)}", reason="TOO_MANY_ITEMS"
            )
        news, seen = [], set()
        for n, item in enumerate(items):
            try:
                key, amount = _check_key(item.idempotency_key), _check_amount(item.amount)
            except InvalidArgument as error:
                raise InvalidArgument(f"items[{n}]: {error.message}", reason=error.reason) from None
            if distinct and key in seen:
                raise InvalidArgument(
                    f"items[{n}]: idempotency_key {key!r} appears twice", reason="DUPLICATE_IDEMPOTENCY_KEY"
                )
            seen.add(key)
            news.append(
                NewEntry(
                    account_id,
                    key,
                    EntryKind.RESERVATION_CHARGE if reservation_id else EntryKind.CHARGE,
                    -amount,
                    item.description,
                    reservation_id=reservation_id,
                    draws_on_reservation=bool(reservation_id),
                )
            )
        return news

    async def _post_to_account(self, new: NewEntry) -> Posted:
        _check_account_id(new.account_id)
        period = billing_period(self.clock())
        try:
            entry, replayed = await self.repository.postings.post(new, free_tier_period=period)
        except FreeTierDue:
            await self.grant_free_tier(new.account_id, period)
            entry, replayed = await self.repository.postings.post(new, free_tier_period=period)
        return await self._posted(new, entry, replayed)

    # reservations

    async def reserve(
        self, account_id: str, key: str, amount: int, description: str = ""
    ) -> tuple[Reservation, int, bool]:
        """Holds ``amount`` credits for a job: the reservation is created unfunded, the hold is
        posted, then the reservation is funded; a retry (or recover()) finishes what a crash left."""
        _check_account_id(account_id)
        reservation_id = reservation_id_for(account_id, _check_key(key))
        reservation = await self.repository.create_reservation(
            account_id, reservation_id, key, _check_amount(amount)
        )
        if reservation.amount != amount:
            raise Conflict(
                f"idempotency key {key!r} was already used to reserve {reservation.amount} credits",
                reason="IDEMPOTENCY_KEY_REUSED",
            )
        replayed = reservation.funded
        if not reservation.funded:
            await self._post_to_account(self._hold(reservation, description))
            reservation = await self.repository.fund_reservation(reservation_id)
        account = await self.account(account_id)
        return reservation, account.balance, replayed

    @staticmethod
    def _hold(reservation: Reservation, description: str = "") -> NewEntry:
        return NewEntry(
            reservation.account_id,
            f"{INTERNAL_KEY_PREFIX}reserve:{reservation.idempotency_key}",
            EntryKind.RESERVE,
            -reservation.amount,
            description or f"Held for {reservation.idempotency_key}",
            reservation_id=reservation.reservation_id,
        )

    async def reservation(self, account_id: str, reservation_id: str) -> Reservation:
        reservation = await self.repository.get_reservation(account_id, reservation_id)
        if reservation is None:
            raise NotFound(f"reservation {reservation_id} not found", reason="RESERVATION_NOT_FOUND")
        return reservation

    async def close(
        self, account_id: str, reservation_id: str, state: ReservationState
    ) -> tuple[Reservation, int]:
        """Settles or releases: freezes the reservation and returns its remainder to the balance.

        Idempotent: closing a closed reservation (in either way) changes nothing more.
        """
        current = await self.reservation(account_id, reservation_id)
        if not current.funded:
            raise FailedPrecondition(
                f"reservation {reservation_id} holds no credits (its Reserve did not go through)",
                reason="RESERVATION_NOT_FUNDED",
            )
        reservation = await self.repository.close_reservation(account_id, reservation_id, state)
        assert reservation is not None, "reservations are never deleted"
        await self._refund(reservation)
        account = await self.account(account_id)
        return reservation, account.balance

    async def _refund(self, reservation: Reservation) -> None:
        if reservation.remaining > 0:
            await self._post_to_account(
                NewEntry(
                    reservation.account_id,
                    f"{INTERNAL_KEY_PREFIX}release:{reservation.reservation_id}",
                    EntryKind.RELEASE,
                    reservation.remaining,
                    f"Unused credits of {reservation.idempotency_key}",
                    reservation_id=reservation.reservation_id,
                )
            )
        await self.repository.mark_refunded(reservation.reservation_id)

    async def recover(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Finishes what crashes left: unfinished postings, holds never funded, closed
        reservations never refunded."""
        finished = await self.repository.postings.recover(older_than)
        for reservation in await self.repository.unfunded_reservations(older_than):
            entry = await self.repository.find_entry(
                reservation.account_id, self._hold(reservation).idempotency_key
            )
            if entry is not None:
                await self.repository.fund_reservation(reservation.reservation_id)
                finished += 1
        for reservation in await self.repository.unrefunded_reservations(older_than):
            await self._refund(reservation)
            finished += 1
        return finished
