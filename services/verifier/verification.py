"""EmailVerifier, the use cases: Verify (one address within the caller's deadline) and VerifyBatch.

Each call is a :class:`services.verifier.run.VerificationRun`, handed the verifier's collaborators
(policy, cache, resolver, prober, lists) and :meth:`EmailVerifier.save_later`, which writes to the
cache in the background. A batch is grouped by domain: each domain is resolved once and its
addresses share SMTP sessions. Verdicts are emitted as soon as they are decided. Greylisted
addresses of a batch are probed again after the back-off when the deadline leaves room; a single
Verify never waits for that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence

from pymongo.errors import PyMongoError

from libs.mongo import utc_now
from services.verifier.domain import (
    AddressLists,
    Check,
    DomainFacts,
    EmailStatus,
    Verdict,
    VerificationPolicy,
    VerifyOptions,
)
from services.verifier.prober import SmtpProber
from services.verifier.repository import VerdictCache
from services.verifier.resolver import MailRouteResolver
from services.verifier.run import VerificationRun

__all__ = ["EmailVerifier"]

log = logging.getLogger("leadmesh.verifier")


class EmailVerifier:
    def __init__(
        self,
        policy: VerificationPolicy,
        resolver: MailRouteResolver,
        prober: SmtpProber,
        cache: VerdictCache,
        lists: AddressLists,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.prober = prober
        self.cache = cache
        self.lists = lists
        self._writes: set[asyncio.Task[None]] = set()

    async def verify(self, email: str, options: VerifyOptions, time_left: float | None = None) -> Verdict:
        """One address, decided within ``time_left`` seconds (the caller's deadline) if given."""
        budget = self.policy.verify_timeout
        if time_left is not None:
            budget = min(budget, time_left - max(0.1, 0.05 * time_left))
        started = time.monotonic()
        run = self._run([(0, email)], options, started + budget, retry_greylisted=False)
        decided: Verdict | None = None
        try:
            async with asyncio.timeout(budget + 0.02):
                async for _, verdict in run.stream():
                    decided = verdict
        except TimeoutError:
            pass
        if decided is not None:
            return decided
        return Verdict(
            email=email,
            status=EmailStatus.UNKNOWN,
            decided_by=Check.SMTP,
            reason="the checks did not finish before the deadline",
            checked_time=utc_now(),
            duration=time.monotonic() - started,
            retry_after=self.policy.hints.temporary,
        )

    def verify_batch(
        self, items: Sequence[tuple[int, str]], options: VerifyOptions, time_left: float | None = None
    ) -> AsyncIterator[tuple[int, Verdict]]:
        """``(index, verdict)`` of every item, in the order they are decided."""
        deadline = None if time_left is None else time.monotonic() + time_left - max(0.05, 0.02 * time_left)
        return self._run(items, options, deadline, retry_greylisted=True).stream()

    def _run(
        self,
        items: Sequence[tuple[int, str]],
        options: VerifyOptions,
        deadline: float | None,
        *,
        retry_greylisted: bool,
    ) -> VerificationRun:
        return VerificationRun(
            items,
            options,
            deadline,
            retry_greylisted=retry_greylisted,
            policy=self.policy,
            cache=self.cache,
            resolver=self.resolver,
            prober=self.prober,
            lists=self.lists,
            save_later=self.save_later,
        )

    def save_later(self, verdicts: dict[str, Verdict], domains: list[DomainFacts]) -> asyncio.Task[None]:
        """Writes to the cache in the background (a failed write is logged); :meth:`close` waits."""
        task = asyncio.create_task(self._save(verdicts, domains))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return task

    async def _save(self, verdicts: dict[str, Verdict], domains: list[DomainFacts]) -> None:
        if not verdicts and not domains:
            return
        try:
            await self.cache.save(verdicts, domains)
        except PyMongoError:
            log.warning("cache write failed", exc_info=True)

    async def close(self) -> None:
        """Lets pending cache writes finish."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
