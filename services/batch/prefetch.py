"""Intent prefetch at upload: a job's distinct company domains are known once its file is read, so
their intent fetches (company website, job boards) start then, in the background, while the first
chunks are still being looked up. Intent fetches each source of a company once, stores what it
found (or that it failed), and bounds its fetches per source; a chunk's enrichment then finds the
signals stored instead of waiting for the fetches.

A prefetch is best effort: a failure is logged and costs nothing but the head start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import grpc

from leadmesh.intent.v1 import intent_service_pb2 as intent_pb
from leadmesh.intent.v1 import intent_service_pb2_grpc as intent_grpc
from libs.normalize import company_domain_from_email, normalize_domain

__all__ = ["IntentPrefetch", "lead_company_domain"]

log = logging.getLogger(__name__)

# Domains of one GetSignalsBatch call (intent's own cap is 1,000 by default).
DOMAINS_PER_CALL = 500


def lead_company_domain(email: str, company_domain: str) -> str | None:
    """The company domain a row names: its company domain, else its work address's domain."""
    if company_domain:
        return normalize_domain(company_domain)
    return company_domain_from_email(email) if email else None


class IntentPrefetch:
    def __init__(self, intent: intent_grpc.IntentServiceStub, concurrency: int, timeout: float):
        self.intent = intent
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, account_id: str, job_id: str, domains: Iterable[str]) -> None:
        """Asks intent about ``domains`` in the background, a few calls at a time."""
        ordered = sorted(set(domains))
        for first in range(0, len(ordered), DOMAINS_PER_CALL):
            task = asyncio.create_task(
                self._ask(account_id, job_id, ordered[first : first + DOMAINS_PER_CALL]),
                name=f"intent-prefetch-{job_id}",
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _ask(self, account_id: str, job_id: str, domains: list[str]) -> None:
        async with self._slots:
            try:
                await self.intent.GetSignalsBatch(
                    intent_pb.GetSignalsBatchRequest(account_id=account_id, company_domains=domains),
                    timeout=self.timeout,
                )
            except grpc.aio.AioRpcError as exc:
                # DEADLINE_EXCEEDED too: the fetches it started carry on inside intent.
                log.info(
                    "intent prefetch not answered",
                    extra={"job_id": job_id, "domains": len(domains), "grpc_code": exc.code().name},
                )

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
