"""The stages of enrichment, one call each to the service behind it, with their deadlines and
failure handling; the use cases that chain them are in :mod:`services.enrichment.pipeline`.

* ``lookup``: providers' waterfall for every lead of the call (a failure fails the call).
* ``after_lookup``: the subjects of the found leads (the lead's person, or each contact of a
  company-only lead), then the verifier, in parallel with intent and then ICP scoring. These
  three degrade: a failure leaves unknown email statuses, no signals or no score, and is listed in
  ``Stages.degradations``.
* ``charge`` and ``balance``: billing (a failure fails the call, see :func:`charge_failed`).

Every call goes through :class:`services.enrichment.downstream.Joined` (coalesced with those of
concurrent requests) with a timeout from the request's :class:`Budget`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
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
from services.enrichment.assembly import Stages, Subject
from services.enrichment.domain import (
    DEFAULT_CONTACTS,
    MAX_CONTACTS,
    Degradation,
    charge_key,
    is_company_only,
)
from services.enrichment.downstream import Downstream, Joined
from services.enrichment.settings import EnrichmentSettings

__all__ = ["Budget", "StageCalls", "charge_failed", "key_reused"]

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


class Budget:
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


class StageCalls:
    """The calls of each stage for the leads of one request."""

    def __init__(self, downstream: Downstream, settings: EnrichmentSettings):
        self.mesh = downstream
        self.joined = Joined(
            downstream,
            limit=settings.enrichment_coalesce_limit,
            max_items=settings.enrichment_coalesce_max_items,
            stages=settings.enrichment_coalesce_stages,
        )
        self.settings = settings

    async def balance(self, account_id: str, budget: Budget) -> int:
        """The account's credit balance (a lead charged nothing is answered with it)."""
        try:
            response = await self.mesh.billing.GetBalance(
                billing_pb.GetBalanceRequest(account_id=account_id),
                timeout=budget.timeout(self.settings.enrichment_billing_timeout),
            )
        except grpc.aio.AioRpcError as exc:
            raise unavailable("billing", exc) from None
        return int(response.balance)

    async def lookup(
        self, account_id: str, leads: list[common.LeadInput], options: pb.EnrichOptions, budget: Budget
    ) -> list[providers_pb.LookupResult]:
        """Each lead's lookup result, in order."""
        wanted = options.max_contacts or DEFAULT_CONTACTS
        request = providers_pb.LookupBatchRequest(
            account_id=account_id,
            leads=leads,
            options=providers_pb.LookupOptions(
                fields=options.fields or DEFAULT_FIELDS,
                refresh=options.refresh,
                # More candidates than returned, so that the ICP ranking has a choice.
                max_contacts=min(MAX_CONTACTS, max(wanted * 4, 20)),
                sandbox=options.sandbox,
            ),
        )
        try:
            return await self.joined.lookup(
                request, budget.timeout(self.settings.enrichment_providers_timeout, budget.reserve)
            )
        except grpc.aio.AioRpcError as exc:
            raise unavailable("providers", exc) from None

    async def after_lookup(
        self,
        account_id: str,
        leads: list[common.LeadInput],
        lookups: list[providers_pb.LookupResult],
        options: pb.EnrichOptions,
        budget: Budget,
    ) -> Stages:
        """What the stages after the lookup make of the found leads (their phone numbers dropped
        unless asked for)."""
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
        self, account_id: str, stages: Stages, options: pb.EnrichOptions, budget: Budget
    ) -> None:
        await self._intent(account_id, stages, options, budget)
        if not options.skip_icp:
            await self._score(account_id, stages, budget)

    async def _verify(self, stages: Stages, options: pb.EnrichOptions, budget: Budget) -> None:
        items = [
            verifier_pb.VerifyBatchItem(index=n, email=s.person.email)
            for n, s in enumerate(stages.subjects)
            if s.person.email
        ]
        if not items:
            return
        request = verifier_pb.VerifyBatchRequest(
            items=items, options=verifier_pb.VerifyOptions(refresh=options.refresh, sandbox=options.sandbox)
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

    async def _intent(
        self, account_id: str, stages: Stages, options: pb.EnrichOptions, budget: Budget
    ) -> None:
        domains = sorted({s.company.domain for s in stages.subjects if s.company.domain})
        if not domains:
            return
        companies = await _guarded(
            "intent",
            self.joined.signals(
                intent_pb.GetSignalsBatchRequest(
                    account_id=account_id, company_domains=domains, sandbox=options.sandbox
                ),
                budget.timeout(self.settings.enrichment_intent_timeout, budget.reserve),
            ),
            stages.degradations,
        )
        if companies is None:
            return
        by_domain = {c.company_domain: c for c in companies if c is not None}
        for s in stages.subjects:
            found = by_domain.get(s.company.domain)
            if found is not None:
                s.signals = list(found.signals)
                s.intent_pending = bool(found.pending_sources)

    async def _score(self, account_id: str, stages: Stages, budget: Budget) -> None:
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

    async def charge(
        self,
        account_id: str,
        request_id: str,
        amount: int,
        record_id: str,
        reservation_id: str,
        budget: Budget,
    ) -> int:
        """Charges ``amount`` once per request id; the balance after it."""
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
            raise charge_failed(outcome) from None
        return int(outcome.balance)


def key_reused() -> Conflict:
    """A request id (or its charge's key) already used for another request."""
    return Conflict("this idempotency key was used with a different request", reason="IDEMPOTENCY_KEY_REUSED")


def charge_failed(error: LeadmeshError) -> LeadmeshError:
    """What the caller of a charge that failed with ``error`` gets."""
    if error.reason == "IDEMPOTENCY_KEY_REUSED":  # the key was charged another amount
        return key_reused()
    if error.reason in {"INSUFFICIENT_CREDITS", "RESERVATION_EXHAUSTED"} or error.code in {
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
    }:
        return error
    return unavailable("billing", error.code)


def unavailable(component: str, failure: grpc.aio.AioRpcError | grpc.StatusCode) -> Unavailable:
    """What the caller of a stage that cannot do without ``component`` gets when it failed."""
    code = failure.code() if isinstance(failure, grpc.aio.AioRpcError) else failure
    log.warning("dependency failed", extra={"component": component, "grpc_code": code.name})
    return Unavailable(
        f"{component} is unavailable ({code.name}); retry shortly", reason=f"{component.upper()}_UNAVAILABLE"
    )
