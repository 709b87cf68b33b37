"""The use cases of enrichment: one lead (EnrichLead) and a batch of leads (EnrichBatch), each the
stages of :mod:`services.enrichment.stages` in turn: providers lookup -> (verification || intent
-> ICP scoring) -> charge -> stored record, where EnrichLead charges alongside the stages (the
price is known once the lead is found). One batch call per downstream service, whether for one
lead or many, and those of concurrent calls coalesced into one under load
(:mod:`services.enrichment.downstream`).

Verifier, intent and scoring failures degrade the answer (unknown email status, no signals, no
score) and are listed in ``meta.degradations``; a providers or billing failure fails the call,
nothing stored, so that a retry with the same request id can still succeed and is charged once.
The records are built by :mod:`services.enrichment.assembly`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.ids import id_time, new_id
from services.enrichment.assembly import build_record
from services.enrichment.domain import cost, fingerprint
from services.enrichment.downstream import Downstream
from services.enrichment.repository import RecordRepository
from services.enrichment.settings import EnrichmentSettings
from services.enrichment.stages import Budget, StageCalls, key_reused

__all__ = ["EnrichedOne", "Pipeline"]

# No record is older (2024-01-01): an id naming an earlier time was never given out (404, not 410).
FIRST_RECORD_TIME = 1_704_067_200

Context = Any


@dataclass
class EnrichedOne:
    record: pb.EnrichmentRecord
    credits_remaining: int
    replayed: bool


class Pipeline:
    def __init__(
        self,
        downstream: Downstream,
        repository: RecordRepository,
        settings: EnrichmentSettings,
        clock: Callable[[], float] = time.time,
    ):
        self.stages = StageCalls(downstream, settings)
        self.repository = repository
        self.settings = settings
        self.clock = clock

    async def enrich_lead(
        self,
        account_id: str,
        request_id: str,
        lead: common.LeadInput,
        options: pb.EnrichOptions,
        context: Context,
        new_request_id: bool = False,
    ) -> EnrichedOne:
        """One lead through every stage. With ``new_request_id`` (the caller made the id up for
        this call) nothing is looked up before: a retry is still charged once (the charge's key)
        and answered with the first record (the record's key)."""
        budget = Budget(context, self.settings.enrichment_reserve_seconds)
        request_print = fingerprint(lead, options)
        stored_id = stored_request_id(request_id, options)
        stored, lookups = await asyncio.gather(
            _none() if new_request_id else self.repository.by_request(account_id, stored_id),
            self.stages.lookup(account_id, [lead], options, budget),
        )
        if stored is not None:
            if stored.fingerprint != request_print:
                raise key_reused()
            return EnrichedOne(stored.record, await self.stages.balance(account_id, budget), replayed=True)
        price = cost(options) if lookups[0].found else 0
        record_id = new_id("ev")
        # The price is known once the lead is found, so the charge goes while the lead is verified
        # and scored. It refuses a lead the balance cannot pay (INSUFFICIENT_CREDITS): nothing is
        # stored then. Asking for the balance first would cost every lead a call and two store reads.
        paying = asyncio.ensure_future(
            self.stages.charge(account_id, request_id, price, record_id, "", budget)
            if price
            else self.stages.balance(account_id, budget)
        )
        try:
            stages = await self.stages.after_lookup(account_id, [lead], lookups, options, budget)
        except BaseException:
            paying.cancel()
            raise
        balance = await paying
        record = build_record(
            self.clock(), account_id, lead, lookups[0], 0, stages, options, price, record_id
        )
        kept = await self.repository.insert(stored_id, request_print, record)
        if kept.fingerprint != request_print:  # a request with another body stored it meanwhile
            raise key_reused()
        return EnrichedOne(kept.record, balance, replayed=kept.record.id != record.id)

    async def enrich_batch(
        self, request: pb.EnrichBatchRequest, context: Context
    ) -> list[tuple[int, pb.EnrichmentRecord]]:
        """Each item's index and record. An item whose charge key has a stored record is answered
        with it; the others go through every stage, then are charged together and stored."""
        items = list(request.items)
        extra = self.settings.enrichment_batch_seconds_per_lead * max(0, len(items) - 1)
        budget = Budget(context, self.settings.enrichment_reserve_seconds, extra)
        account_id, options = request.account_id, request.options
        keys = [stored_request_id(item.charge_key or new_id("req"), options) for item in items]
        leads = [item.lead for item in items]
        known = [] if request.skip_store else [k for k in keys if k]
        stored, lookups = await asyncio.gather(
            self.repository.by_requests(account_id, known),
            self.stages.lookup(account_id, leads, options, budget),
        )
        todo = [i for i, key in enumerate(keys) if key not in stored]
        stages = await self.stages.after_lookup(
            account_id, [leads[i] for i in todo], [lookups[i] for i in todo], options, budget
        )
        records: dict[int, pb.EnrichmentRecord] = {
            i: stored[key].record for i, key in enumerate(keys) if key in stored
        }
        rows: list[tuple[str, str, pb.EnrichmentRecord]] = []
        for position, i in enumerate(todo):
            price = cost(options) if lookups[i].found else 0
            record = build_record(
                self.clock(), account_id, leads[i], lookups[i], position, stages, options, price
            )
            records[i] = record
            rows.append((keys[i], fingerprint(leads[i], options), record))
        if not request.skip_charge:
            charge = self.stages.charge
            charges = [
                charge(account_id, key, record.meta.credits_used, record.id, request.reservation_id, budget)
                for key, _, record in rows
                if record.meta.credits_used
            ]
            outcomes = await asyncio.gather(*charges, return_exceptions=True)
            failed = [o for o in outcomes if isinstance(o, BaseException)]
            if failed:
                # Keep the records whose charge went through, so a retry replays them.
                charged = {
                    r.id
                    for r, o in zip([r for _, _, r in rows if r.meta.credits_used], outcomes, strict=True)
                    if not isinstance(o, BaseException)
                }
                if not request.skip_store:
                    await self.repository.insert_many(
                        [row for row in rows if not row[2].meta.credits_used or row[2].id in charged]
                    )
                raise failed[0]
        if not request.skip_store:
            await self.repository.insert_many(rows)
        return [(items[i].index, records[i]) for i in range(len(items))]

    async def get(self, account_id: str, record_id: str, sandbox: bool = False) -> pb.EnrichmentRecord | None:
        """A stored record of the account, among its test-mode records with ``sandbox``."""
        return await self.repository.get(account_id, record_id, sandbox)

    def expired(self, record_id: str) -> bool:
        """Whether a record of this id would be past the retention period (so purged, not unknown)."""
        made = id_time(record_id) if record_id.startswith("ev_") else None
        cutoff = self.clock() - self.settings.record_retention_days * 86_400
        return made is not None and FIRST_RECORD_TIME <= made < cutoff

    async def purge_expired(self) -> int:
        """Deletes the records past the retention period."""
        cutoff = self.clock() - self.settings.record_retention_days * 86_400
        return await self.repository.purge(datetime.fromtimestamp(cutoff, UTC))


async def _none() -> None:
    return None


def stored_request_id(request_id: str, options: pb.EnrichOptions) -> str:
    """The id a record is stored under: test-mode requests have their own (a test key's
    Idempotency-Key never answers a live record, nor the other way round)."""
    return f"test:{request_id}" if options.sandbox else request_id
