"""The reservation half of :class:`services.billing.ledger.CreditLedger`: credits held for a batch
job (Reserve), charges drawn on them one by one, as a batch or each on its own, and their closing
(Settle, Release), which returns the remainder to the balance.

A reservation's hold and refund are postings to the account, made by the ledger's account half
(:meth:`ReservationLedger.account` and :meth:`ReservationLedger._post_to_account`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import timedelta

from libs.errors import Conflict, FailedPrecondition, InvalidArgument, LeadmeshError, NotFound
from libs.telemetry import meter
from services.billing.domain import (
    INTERNAL_KEY_PREFIX,
    Account,
    BatchCharged,
    ChargeItem,
    EntryKind,
    FreeTierDue,
    ItemCharged,
    NewEntry,
    Posted,
    Reservation,
    ReservationState,
    charge_entries,
    check_account_id,
    check_amount,
    check_key,
    reservation_id_for,
)
from services.billing.repository import BillingRepository

__all__ = ["CREDITS_CHARGED", "ReservationLedger"]

# Counted by both halves of the ledger.
CREDITS_CHARGED = meter("leadmesh.billing").create_counter(
    "leadmesh.credits.charged",
    unit="{credit}",
    description="Credits charged, by kind (charge or reservation_charge)",
)


class ReservationLedger(abc.ABC):
    """Reservations of a :class:`services.billing.ledger.CreditLedger`, which supplies the
    account half below."""

    repository: BillingRepository

    @abc.abstractmethod
    async def account(self, account_id: str) -> Account:
        """The account, its free tier for this month granted first if due."""

    @abc.abstractmethod
    async def _post_to_account(self, new: NewEntry) -> Posted:
        """Posts ``new`` on the account's balance (granting the month's free tier first if due)."""

    async def charge_reservation(
        self, account_id: str, reservation_id: str, key: str, amount: int, description: str = ""
    ) -> Posted:
        """A charge drawn on a reservation: it lowers the reservation, not the balance."""
        new = NewEntry(
            check_account_id(account_id),
            check_key(key),
            EntryKind.RESERVATION_CHARGE,
            -check_amount(amount),
            description,
            reservation_id=reservation_id,
            draws_on_reservation=True,
        )
        entry, replayed = await self.repository.postings.post(new)
        if not replayed:
            CREDITS_CHARGED.add(amount, {"kind": EntryKind.RESERVATION_CHARGE.value})
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
                    CREDITS_CHARGED.add(-entry.amount, {"kind": EntryKind.RESERVATION_CHARGE.value})
                results.append(ItemCharged(entry, replayed))
        except LeadmeshError as error:
            error.metadata.setdefault("idempotency_key", news[len(results)].idempotency_key)
            raise
        reservation = await self.reservation(account_id, reservation_id)
        return BatchCharged(results, reservation.remaining)

    async def _post_on_reservation(
        self, account_id: str, news: list[NewEntry]
    ) -> list[Posted | LeadmeshError]:
        """ChargeEach on a reservation: each charge's outcome, with the account's balance."""
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
        return charge_entries(account_id, reservation_id, items, distinct=True)

    async def reserve(
        self, account_id: str, key: str, amount: int, description: str = ""
    ) -> tuple[Reservation, int, bool]:
        """Holds ``amount`` credits for a job: the reservation is created unfunded, the hold is
        posted, then the reservation is funded; a retry (or recover()) finishes what a crash left."""
        check_account_id(account_id)
        reservation_id = reservation_id_for(account_id, check_key(key))
        reservation = await self.repository.create_reservation(
            account_id, reservation_id, key, check_amount(amount)
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

    async def _recover_reservations(self, older_than: timedelta) -> int:
        """Funds the reservations whose hold was posted but never funded, and refunds closed ones
        never refunded; how many."""
        finished = 0
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
