"""Verifying addresses: syntax, cache, DNS, lists, SMTP, then the verdict.

A batch is grouped by domain: each domain is resolved once and its addresses share SMTP sessions
(see :mod:`services.verifier.run`). Verdicts are emitted as soon as they are decided. Greylisted
addresses of a batch are probed again after the back-off when the deadline leaves room; a single
Verify never waits for that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from pymongo.errors import PyMongoError

from libs.mongo import utc_now
from services.verifier.domain import AddressLists, Check, DomainFacts, EmailStatus, RetryHints, Verdict
from services.verifier.prober import SmtpProber
from services.verifier.repository import VerdictCache
from services.verifier.resolver import MailRouteResolver
from services.verifier.run import VerificationRun

__all__ = ["EmailVerifier", "VerificationPolicy", "VerifyOptions"]

log = logging.getLogger("leadmesh.verifier")


@dataclass(frozen=True)
class VerifyOptions:
    skip_smtp: bool = False
    # Ignore cached verdicts and domain findings (the fresh ones are cached).
    refresh: bool = False


@dataclass(frozen=True)
class VerificationPolicy:
    smtp_enabled: bool
    recipients_per_session: int
    batch_concurrency: int
    greylist_backoff: float
    greylist_retries: int
    hints: RetryHints
    # Budget of a Verify whose caller set no deadline, in seconds.
    verify_timeout: float


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
        run = VerificationRun(self, [(0, email)], options, started + budget, retry_greylisted=False)
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
        return VerificationRun(self, items, options, deadline, retry_greylisted=True).stream()

    def save_later(self, verdicts: dict[str, Verdict], domains: list[DomainFacts]) -> asyncio.Task[None]:
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
