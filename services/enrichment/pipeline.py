"""The pipeline over the mesh: providers lookup -> (verification || intent -> ICP scoring) ->
charge -> stored record, where EnrichLead charges alongside the stages (the price is known once
the lead is found). One batch call per downstream service, whether for one lead or many, and
those of concurrent calls coalesced into one under load (:mod:`services.enrichment.downstream`).

Verifier, intent and scoring failures degrade the answer (unknown email status, no signals, no
score) and are listed in ``meta.degradations``; a providers or billing failure fails the call,
nothing stored, so that a retry with the same request id can still succeed and is charged once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from leadmesh.intent.v1 import intent_service_pb2 as intent_pb
from leadmesh.providers.v1 import providers_service_pb2 as providers_pb
from leadmesh.scoring.v1 import scoring_service_pb2 as scoring_pb
from leadmesh.verifier.v1 import verifier_service_pb2 as verifier_pb
from libs.errors import Conflict, LeadmeshError, Unavailable, error_from_rpc
from libs.ids import new_id
from services.enrichment.assembly import Stages, Subject, build_record
from services.enrichment.domain import (
    DEFAULT_CONTACTS,
    MAX_CONTACTS,
    Degradation,
    charge_key,
    cost,
    fingerprint,
    is_company_only,
)
from services.enrichment.downstream import Downstream, Joined
from services.enrichment.repository import RecordRepository
from services.enrichment.settings import EnrichmentSettings

__all__ = ["EnrichedOne", "Pipeline"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Context = Any
# What an empty ``fields`` option means (1 credit).
DEFAULT_FIELDS = [
    common.FIELD_GROUP_PERSON,
    common.FIELD_GROUP_COMPANY,
    common.FIELD_GROUP_EMAIL,
    common.FIELD_GROUP_LINKEDIN,
]


@dataclass
class EnrichedOne:
    record: pb.EnrichmentRecord
    credits_remaining: int
    replayed: bool


class _Budget:
    """Per-call timeouts from the incoming deadline, keeping ``reserve`` back for charge and store.

    A stage's cap grows with the leads of the call (``extra`` seconds): a batch of 500 fresh
    addresses takes the verifier longer than one, and cutting it at the single-lead cap would
    answer ``unknown`` for leads that only needed the time."""

    def __init__(self, context: Context, reserve: float, extra: float = 0.0):
        remaining = context.time_remaining() if context is not None else None
        self.deadline = None if remaining is None else time.monotonic() + float(remaining)
        self.reserve = reserve
        self.extra = extra

    def timeout(self, cap: float, keep: float = 0.0) -> float:
        cap += self.extra
        if self.deadline is None:
            return cap
        return max(0.001, min(cap, self.deadline - time.monotonic() - keep - 0.01))


async def _guarded(component: str, call: Awaitable[T], degradations: list[Degradation]) -> T | None:
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        _degraded(component, exc, degradations)
        return None


def _degraded(component: str, exc: grpc.aio.AioRpcError, degradations: list[Degradation]) -> None:
    log.warning("degraded", extra={"component": component, "grpc_code": exc.code().name})
    degradations.append(Degradation(component, exc.code().name))


class Pipeline:
    def __init__(
        self,
        downstream: Downstream,
        repository: RecordRepository,
        settings: EnrichmentSettings,
        clock: Callable[[], float] = time.time,
    ):
        self.mesh = downstream
        self.joined = Joined(
            downstream,
            limit=settings.enrichment_coalesce_limit,
            max_items=settings.enrichment_coalesce_max_items,
            stages=settings.enrichment_coalesce_stages,
        )
        self.repository = repository
        self.settings = settings
        self.clock = clock

    # public use cases

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
        budget = _Budget(context, self.settings.enrichment_reserve_seconds)
        request_print = fingerprint(lead, options)
        stored, lookups = await asyncio.gather(
            _none() if new_request_id else self.repository.by_request(account_id, request_id),
            self._lookup(account_id, [lead], options, budget),
        )
        if stored is not None:
            if stored.fingerprint != request_print:
                raise _key_reused()
            return EnrichedOne(stored.record, await self._balance(account_id, budget), replayed=True)
        price = cost(options) if lookups[0].found else 0
        record_id = new_id("ev")
        # The price is known once the lead is found, so the charge goes while the lead is verified
        # and scored. It refuses a lead the balance cannot pay (INSUFFICIENT_CREDITS): nothing is
        # stored then. Asking for the balance first would cost every lead a call and two store reads.
        paying = asyncio.ensure_future(
            self._charge(account_id, request_id, price, record_id, "", budget)
            if price
            else self._balance(account_id, budget)
        )
        try:
            stages = await self._stages(account_id, [lead], lookups, options, budget)
        except BaseException:
            paying.cancel()
            raise
        balance = await paying
        record = build_record(
            self.clock(), account_id, lead, lookups[0], 0, stages, options, price, record_id
        )
        kept = await self.repository.insert(request_id, request_print, record)
        if kept.fingerprint != request_print:  # a request with another body stored it meanwhile
            raise _key_reused()
        return EnrichedOne(kept.record, balance, replayed=kept.record.id != record.id)

    async def enrich_batch(
        self, request: pb.EnrichBatchRequest, context: Context
    ) -> list[tuple[int, pb.EnrichmentRecord]]:
        items = list(request.items)
        extra = self.settings.enrichment_batch_seconds_per_lead * max(0, len(items) - 1)
        budget = _Budget(context, self.settings.enrichment_reserve_seconds, extra)
        account_id, options = request.account_id, request.options
        keys = [item.charge_key or new_id("req") for item in items]
        leads = [item.lead for item in items]
        known = [] if request.skip_store else [k for k in keys if k]
        stored, lookups = await asyncio.gather(
            self.repository.by_requests(account_id, known),
            self._lookup(account_id, leads, options, budget),
        )
        todo = [i for i, key in enumerate(keys) if key not in stored]
        stages = await self._stages(
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
            charges = [
                self._charge(
                    account_id, key, record.meta.credits_used, record.id, request.reservation_id, budget
                )
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

    async def get(self, account_id: str, record_id: str) -> pb.EnrichmentRecord | None:
        return await self.repository.get(account_id, record_id)

    # stages

    async def _balance(self, account_id: str, budget: _Budget) -> int:
        try:
            response = await self.mesh.billing.GetBalance(
                billing_pb.GetBalanceRequest(account_id=account_id),
                timeout=budget.timeout(self.settings.enrichment_billing_timeout),
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable("billing", exc) from None
        return int(response.balance)

    async def _lookup(
        self, account_id: str, leads: list[common.LeadInput], options: pb.EnrichOptions, budget: _Budget
    ) -> list[providers_pb.LookupResult]:
        wanted = options.max_contacts or DEFAULT_CONTACTS
        request = providers_pb.LookupBatchRequest(
            account_id=account_id,
            leads=leads,
            options=providers_pb.LookupOptions(
                fields=options.fields or DEFAULT_FIELDS,
                refresh=options.refresh,
                # More candidates than returned, so that the ICP ranking has a choice.
                max_contacts=min(MAX_CONTACTS, max(wanted * 4, 20)),
            ),
        )
        try:
            return await self.joined.lookup(
                request, budget.timeout(self.settings.enrichment_providers_timeout, budget.reserve)
            )
        except grpc.aio.AioRpcError as exc:
            raise _unavailable("providers", exc) from None

    async def _stages(
        self,
        account_id: str,
        leads: list[common.LeadInput],
        lookups: list[providers_pb.LookupResult],
        options: pb.EnrichOptions,
        budget: _Budget,
    ) -> Stages:
        stages = Stages()
        phone = common.FIELD_GROUP_PHONE in options.fields
        for item, (lead, result) in enumerate(zip(leads, lookups, strict=True)):
            if not result.found:
                continue
            if not phone:  # paid for at 1 credit: no phone numbers
                result.company.ClearField("phone")
                result.person.ClearField("phone")
                for contact in result.contacts:
                    contact.ClearField("phone")
            if is_company_only(lead):
                stages.subjects.extend(Subject(item, person, result.company) for person in result.contacts)
            else:
                person = common.Person()
                person.CopyFrom(result.person)
                if not person.email and lead.email:
                    person.email = lead.email.strip()
                stages.subjects.append(Subject(item, person, result.company))
        if not stages.subjects:
            return stages
        # The score needs the intent signals, not the email verdict: it goes while the verifier
        # still probes the mail server.
        await asyncio.gather(
            self._verify(stages, options, budget),
            self._intent_then_score(account_id, stages, options, budget),
        )
        return stages

    async def _intent_then_score(
        self, account_id: str, stages: Stages, options: pb.EnrichOptions, budget: _Budget
    ) -> None:
        await self._intent(account_id, stages, budget)
        if not options.skip_icp:
            await self._score(account_id, stages, budget)

    async def _verify(self, stages: Stages, options: pb.EnrichOptions, budget: _Budget) -> None:
        items = [
            verifier_pb.VerifyBatchItem(index=n, email=s.person.email)
            for n, s in enumerate(stages.subjects)
            if s.person.email
        ]
        if not items:
            return
        request = verifier_pb.VerifyBatchRequest(
            items=items, options=verifier_pb.VerifyOptions(refresh=options.refresh)
        )
        verdicts = await _guarded(
            "verifier",
            self.joined.verify(
                request, budget.timeout(self.settings.enrichment_verifier_timeout, budget.reserve)
            ),
            stages.degradations,
        )
        cut: grpc.aio.AioRpcError | None = None
        for item, verdict in zip(items, verdicts, strict=True) if verdicts is not None else ():
            if isinstance(verdict, grpc.aio.AioRpcError):
                cut = verdict
            else:
                stages.subjects[item.index].verdict = verdict
        if cut is not None:  # the stream stopped part way: the verdicts before it stand
            _degraded("verifier", cut, stages.degradations)
        for s in stages.subjects:
            if s.person.email and s.verdict is None:
                s.verdict = common.EmailVerdict(
                    email=s.person.email, status=common.EMAIL_STATUS_UNKNOWN, reason="verifier unavailable"
                )

    async def _intent(self, account_id: str, stages: Stages, budget: _Budget) -> None:
        domains = sorted({s.company.domain for s in stages.subjects if s.company.domain})
        if not domains:
            return
        companies = await _guarded(
            "intent",
            self.joined.signals(
                intent_pb.GetSignalsBatchRequest(account_id=account_id, company_domains=domains),
                budget.timeout(self.settings.enrichment_intent_timeout, budget.reserve),
            ),
            stages.degradations,
        )
        if companies is None:
            return
        by_domain = {c.company_domain: c for c in companies if c is not None}
        if any(c.pending_sources for c in by_domain.values()):
            stages.degradations.append(Degradation("intent", "PENDING_SOURCES"))
        for s in stages.subjects:
            found = by_domain.get(s.company.domain)
            if found is not None:
                s.signals = list(found.signals)

    async def _score(self, account_id: str, stages: Stages, budget: _Budget) -> None:
        scores = await _guarded(
            "scoring",
            self.joined.score(
                scoring_pb.ScoreBatchRequest(
                    account_id=account_id,
                    subjects=[
                        scoring_pb.ScoringSubject(
                            person=s.person, company=s.company, intent_signals=s.signals
                        )
                        for s in stages.subjects
                    ],
                ),
                budget.timeout(self.settings.enrichment_scoring_timeout, budget.reserve),
            ),
            stages.degradations,
        )
        if scores is None:
            return
        for s, (score, version) in zip(stages.subjects, scores, strict=True):
            s.icp = score
            stages.profile_version = version

    async def _charge(
        self,
        account_id: str,
        request_id: str,
        amount: int,
        record_id: str,
        reservation_id: str,
        budget: _Budget,
    ) -> int:
        request = billing_pb.ChargeRequest(
            account_id=account_id,
            idempotency_key=charge_key(request_id),
            amount=amount,
            description=f"enrichment {record_id}",
            reservation_id=reservation_id,
        )
        try:
            outcome = await self.joined.charge(
                request, budget.timeout(self.settings.enrichment_billing_timeout)
            )
        except grpc.aio.AioRpcError as exc:
            outcome = error_from_rpc(exc)
        if isinstance(outcome, LeadmeshError):
            raise _charge_failed(outcome) from None
        return int(outcome.balance)

    # assembly


async def _none() -> None:
    return None


def _key_reused() -> Conflict:
    return Conflict("this idempotency key was used with a different request", reason="IDEMPOTENCY_KEY_REUSED")


def _charge_failed(error: LeadmeshError) -> LeadmeshError:
    """What the caller of a charge that failed with ``error`` gets."""
    if error.reason == "IDEMPOTENCY_KEY_REUSED":  # the key was charged another amount
        return _key_reused()
    if error.reason in {"INSUFFICIENT_CREDITS", "RESERVATION_EXHAUSTED"} or error.code in {
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
    }:
        return error
    return _unavailable("billing", error.code)


def _unavailable(component: str, failure: grpc.aio.AioRpcError | grpc.StatusCode) -> Unavailable:
    code = failure.code() if isinstance(failure, grpc.aio.AioRpcError) else failure
    log.warning("dependency failed", extra={"component": component, "grpc_code": code.name})
    return Unavailable(
        f"{component} is unavailable ({code.name}); retry shortly", reason=f"{component.upper()}_UNAVAILABLE"
    )
