"""The services enrichment calls, and their batch RPCs coalesced across concurrent calls.

Every stage already asks its service for all its leads in one batch call. :class:`Joined` goes one
step further: the batch calls of one stage made by concurrent requests (32 single-lead API calls at
once) go out as one, once ``limit`` of them are in flight (see :mod:`libs.coalesce`). A merged call
carries its first caller's trace context and request id and gets its callers' earliest deadline;
each caller gets its own results (a verifier caller as soon as its own addresses are verified), and
a merged call rejected as INVALID_ARGUMENT is sent again caller by caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeAlias, TypeVar

import grpc

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.common.v1 import common_pb2 as common
from leadmesh.intent.v1 import intent_service_pb2 as intent_pb
from leadmesh.intent.v1 import intent_service_pb2_grpc as intent_grpc
from leadmesh.providers.v1 import providers_service_pb2 as providers_pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as providers_grpc
from leadmesh.scoring.v1 import scoring_service_pb2 as scoring_pb
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as scoring_grpc
from leadmesh.verifier.v1 import verifier_service_pb2 as verifier_pb
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as verifier_grpc
from libs.coalesce import Coalescer, Send
from libs.errors import LeadmeshError, error_from_parts, error_from_rpc

__all__ = ["Downstream", "Joined", "Verdict"]

I = TypeVar("I")  # noqa: E741 - item
R = TypeVar("R")
I_in = TypeVar("I_in", contravariant=True)
# A verdict, the error that cut the verifier's stream before it, or None (no answer for it).
Verdict: TypeAlias = common.EmailVerdict | grpc.aio.AioRpcError | None


@dataclass
class Downstream:
    providers: providers_grpc.ProvidersServiceStub
    verifier: verifier_grpc.VerifierServiceStub
    intent: intent_grpc.IntentServiceStub
    scoring: scoring_grpc.ScoringServiceStub
    billing: billing_grpc.BillingServiceStub


def _isolate(error: BaseException) -> bool:
    return isinstance(error, grpc.aio.AioRpcError) and error.code() == grpc.StatusCode.INVALID_ARGUMENT


def _deadline_exceeded() -> grpc.aio.AioRpcError:
    """What a caller whose own deadline passed while its merged call was still out gets."""
    return grpc.aio.AioRpcError(
        grpc.StatusCode.DEADLINE_EXCEEDED, grpc.aio.Metadata(), grpc.aio.Metadata(), "Deadline Exceeded"
    )


# The stages whose calls may be coalesced (EnrichmentSettings.enrichment_coalesce_stages).
STAGES = frozenset({"providers", "verifier", "intent", "scoring", "billing"})
# Lookups and signals answer a merged call when its slowest lead is done. Where their calls
# typically take longer than this, they wait on other people's servers (a vendor's API, a company's
# website), not on our CPU, and go alone so that no lead waits for a batch-mate's slow source.
# Loopback calls slowed by a saturated CPU stay well below it, and keep merging.
ALONE_AFTER = 0.25


class _Batcher(Protocol[I_in, R]):
    async def __call__(self, key: bytes, items: Sequence[I_in], timeout: float | None = None) -> list[R]: ...


@dataclass(frozen=True)
class _Alone(Generic[I, R]):
    """A stage not coalesced: every call goes as it is."""

    send: Send[bytes, I, R]

    async def __call__(self, key: bytes, items: Sequence[I], timeout: float | None = None) -> list[R]:
        return list(await self.send(key, list(items), timeout))


class Joined:
    """LookupBatch, VerifyBatch, GetSignalsBatch, ScoreBatch and Charge (merged as ChargeEach),
    those of the ``stages`` coalesced per request header (account and options): at most ``limit``
    calls of a header in flight, ``max_items`` items per merged call (a larger call goes alone, at
    once). A merged unary call lasts as long as its slowest lead: lookups and signals go alone where
    they are typically slow (``ALONE_AFTER``); the verifier's stream answers each lead as its own
    addresses are done."""

    def __init__(self, mesh: Downstream, *, limit: int, max_items: int, stages: Collection[str]):
        if unknown := set(stages) - STAGES:
            raise ValueError(f"unknown stages {sorted(unknown)}; stages are {sorted(STAGES)}")
        self.mesh = mesh

        def joined(
            stage: str, name: str, send: Send[bytes, I, R], alone_after: float | None = None
        ) -> _Batcher[I, R]:
            if stage not in stages:
                return _Alone(send)
            return Coalescer(
                name, send, limit=limit, max_items=max_items, isolate=_isolate, alone_after=alone_after
            )

        self._lookups = joined("providers", "providers.LookupBatch", self._lookup_batch, ALONE_AFTER)
        self._verdicts: _Batcher[str, Verdict] = (
            Coalescer(
                "verifier.VerifyBatch",
                stream=self._verify_stream,
                limit=limit,
                max_items=max_items,
                isolate=_isolate,
            )
            if "verifier" in stages
            else _Alone(self._verify_batch)
        )
        self._signals = joined("intent", "intent.GetSignalsBatch", self._signals_batch, ALONE_AFTER)
        self._scores = joined("scoring", "scoring.ScoreBatch", self._score_batch)
        self._charges = joined("billing", "billing.ChargeEach", self._charge_each)

    async def charge(
        self, request: billing_pb.ChargeRequest, timeout: float
    ) -> billing_pb.ChargeResponse | LeadmeshError:
        """The charge's response, or the error its own Charge call would have failed with (the
        call failing as a whole raises)."""
        header = billing_pb.ChargeEachRequest(
            account_id=request.account_id, reservation_id=request.reservation_id
        )
        item = billing_pb.ChargeBatchItem(
            idempotency_key=request.idempotency_key, amount=request.amount, description=request.description
        )
        return (await _joined(self._charges, _key(header), [item], timeout))[0]

    async def lookup(
        self, request: providers_pb.LookupBatchRequest, timeout: float
    ) -> list[providers_pb.LookupResult]:
        header = providers_pb.LookupBatchRequest(account_id=request.account_id, options=request.options)
        return await _joined(self._lookups, _key(header), list(request.leads), timeout)

    async def verify(self, request: verifier_pb.VerifyBatchRequest, timeout: float) -> list[Verdict]:
        """One verdict (or the error that stopped the stream before it) per item, in order."""
        header = verifier_pb.VerifyBatchRequest(options=request.options)
        emails = [item.email for item in request.items]
        return await _joined(self._verdicts, _key(header), emails, timeout)

    async def signals(
        self, request: intent_pb.GetSignalsBatchRequest, timeout: float
    ) -> list[intent_pb.CompanySignals | None]:
        """Each domain's signals (None: the service returned none for it), in order."""
        header = intent_pb.GetSignalsBatchRequest(
            account_id=request.account_id, categories=request.categories, sandbox=request.sandbox
        )
        return await _joined(self._signals, _key(header), list(request.company_domains), timeout)

    async def score(
        self, request: scoring_pb.ScoreBatchRequest, timeout: float
    ) -> list[tuple[common.IcpScore, int]]:
        """Each subject's score and the profile version it was scored against, in order."""
        header = scoring_pb.ScoreBatchRequest(
            account_id=request.account_id, profile_version=request.profile_version
        )
        if request.HasField("score_time"):
            header.score_time.CopyFrom(request.score_time)
        return await _joined(self._scores, _key(header), list(request.subjects), timeout)

    # the merged calls

    async def _lookup_batch(
        self, key: bytes, leads: list[common.LeadInput], timeout: float | None
    ) -> Sequence[providers_pb.LookupResult]:
        request = providers_pb.LookupBatchRequest.FromString(key)
        request.leads.extend(leads)
        response = await self.mesh.providers.LookupBatch(request, timeout=timeout)
        return list(response.results)

    async def _verify_batch(self, key: bytes, emails: list[str], timeout: float | None) -> list[Verdict]:
        got = {position: verdict async for position, verdict in self._verify_stream(key, emails, timeout)}
        return [got[position] for position in range(len(emails))]

    async def _verify_stream(
        self, key: bytes, emails: list[str], timeout: float | None
    ) -> AsyncIterator[tuple[int, Verdict]]:
        """Each address's verdict as the verifier answers it, so that a merged call answers each
        lead once its own addresses are done, not when a batch-mate's slow mail server is; after a
        stream cut part way, the error for the addresses it did not answer; None for any it left
        out."""
        options = verifier_pb.VerifyBatchRequest.FromString(key).options
        if len(emails) == 1:  # a unary call costs 0.15 ms of CPU less than a one-message stream
            one = await self.mesh.verifier.Verify(
                verifier_pb.VerifyRequest(email=emails[0], options=options), timeout=timeout
            )
            yield 0, one.verdict
            return
        request = verifier_pb.VerifyBatchRequest(
            items=[verifier_pb.VerifyBatchItem(index=n, email=email) for n, email in enumerate(emails)],
            options=options,
        )
        answered: set[int] = set()
        missing: Verdict = None
        try:
            async for answer in self.mesh.verifier.VerifyBatch(request, timeout=timeout):
                if 0 <= answer.index < len(emails) and answer.index not in answered:
                    answered.add(answer.index)
                    yield answer.index, answer.verdict
        except grpc.aio.AioRpcError as error:
            if _isolate(error) or not answered:
                raise
            missing = error
        for position in range(len(emails)):
            if position not in answered:
                yield position, missing

    async def _signals_batch(
        self, key: bytes, domains: list[str], timeout: float | None
    ) -> list[intent_pb.CompanySignals | None]:
        request = intent_pb.GetSignalsBatchRequest.FromString(key)
        request.company_domains.extend(dict.fromkeys(domains))
        response = await self.mesh.intent.GetSignalsBatch(request, timeout=timeout)
        by_domain = {company.company_domain: company for company in response.companies}
        return [by_domain.get(domain) for domain in domains]

    async def _score_batch(
        self, key: bytes, subjects: list[scoring_pb.ScoringSubject], timeout: float | None
    ) -> list[tuple[common.IcpScore, int]]:
        request = scoring_pb.ScoreBatchRequest.FromString(key)
        request.subjects.extend(subjects)
        response = await self.mesh.scoring.ScoreBatch(request, timeout=timeout)
        if len(response.scores) != len(subjects):
            raise RuntimeError(f"scoring answered {len(response.scores)} scores for {len(subjects)} subjects")
        return [(score, response.profile_version) for score in response.scores]

    async def _charge_each(
        self, key: bytes, items: list[billing_pb.ChargeBatchItem], timeout: float | None
    ) -> list[billing_pb.ChargeResponse | LeadmeshError]:
        header = billing_pb.ChargeEachRequest.FromString(key)
        if len(items) == 1:
            return [await self.mesh.billing.Charge(_charge_request(header, items[0]), timeout=timeout)]
        header.items.extend(items)
        try:
            response = await self.mesh.billing.ChargeEach(header, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            # A billing older than ChargeEach (during a rolling deploy): one Charge per item.
            return await asyncio.gather(*(self._charge_one(header, item, timeout) for item in items))
        return [
            error_from_parts(r.error.code, r.error.message, r.error.reason, r.error.metadata)
            if r.HasField("error")
            else billing_pb.ChargeResponse(entry=r.entry, balance=r.balance, replayed=r.replayed)
            for r in response.results
        ]

    async def _charge_one(
        self, header: billing_pb.ChargeEachRequest, item: billing_pb.ChargeBatchItem, timeout: float | None
    ) -> billing_pb.ChargeResponse | LeadmeshError:
        try:
            response: billing_pb.ChargeResponse = await self.mesh.billing.Charge(
                _charge_request(header, item), timeout=timeout
            )
        except grpc.aio.AioRpcError as error:
            return error_from_rpc(error)
        return response


def _charge_request(
    header: billing_pb.ChargeEachRequest, item: billing_pb.ChargeBatchItem
) -> billing_pb.ChargeRequest:
    return billing_pb.ChargeRequest(
        account_id=header.account_id,
        reservation_id=header.reservation_id,
        idempotency_key=item.idempotency_key,
        amount=item.amount,
        description=item.description,
    )


def _key(header: object) -> bytes:
    return header.SerializeToString(deterministic=True)  # type: ignore[attr-defined, no-any-return]


async def _joined(batcher: _Batcher[I, R], key: bytes, items: list[I], timeout: float) -> list[R]:
    try:
        return await batcher(key, items, timeout)
    except TimeoutError:
        raise _deadline_exceeded() from None
