"""One Verify or VerifyBatch call: parse, cache, then per domain DNS, lists and SMTP sessions.

Domains are resolved as they come (at most ``batch_concurrency`` lookups at once); each domain to
probe joins the lane of its primary mail server, which works through its domains with at most
``mx_concurrency`` sessions at once, so a batch dominated by one provider does not hold up the
other domains. A domain's addresses share sessions (``recipients_per_session`` each, one after
the other). Greylisted addresses rejoin the lane after the back-off, without holding a slot.

A run is handed what it works with (the policy, the verdict cache, the DNS resolver, the SMTP
prober, the address lists) and a function that saves verdicts in the background; it knows
nothing of :class:`services.verifier.verification.EmailVerifier`, which makes one per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace

from pymongo.errors import PyMongoError

from libs.mongo import utc_now
from libs.telemetry import meter
from services.verifier.domain import (
    AddressLists,
    Check,
    DomainFacts,
    DomainOutcome,
    EmailAddress,
    EmailStatus,
    MailboxProbe,
    MailHost,
    ProbeOutcome,
    SyntaxProblem,
    Verdict,
    VerificationPolicy,
    VerifyOptions,
    decide,
    parse_address,
    syntax_verdict,
)
from services.verifier.prober import SmtpProber
from services.verifier.repository import VerdictCache
from services.verifier.resolver import MailRouteResolver

__all__ = ["CACHE_WRITE_BATCH", "SaveLater", "VerificationRun"]

log = logging.getLogger("leadmesh.verifier")

_VERDICTS = meter("leadmesh.verifier").create_counter(
    "leadmesh.verifier.verdicts", description="Verdicts decided, by status and the check that decided"
)

# Cached verdicts go to the store in bulk writes of this size while a large batch goes on.
CACHE_WRITE_BATCH = 1000

# Writes verdicts and domain findings to the cache in the background; the task ends once they are in.
SaveLater = Callable[[dict[str, Verdict], list[DomainFacts]], asyncio.Task[None]]


@dataclass
class _DomainWork:
    """A domain's addresses still to probe, in one lane."""

    facts: DomainFacts
    addresses: list[EmailAddress]
    # When work on the domain began (its DNS lookup); reset when a lane picks it up, so that a
    # verdict's duration counts the lookup and the probe, not the wait for the lane.
    started: float
    catch_all_address: str
    hosts: tuple[MailHost, ...]
    attempt: int = 0
    greylisted: list[tuple[EmailAddress, str]] = field(default_factory=list)
    queued: float = field(default_factory=time.monotonic)


class VerificationRun:
    def __init__(
        self,
        items: Sequence[tuple[int, str]],
        options: VerifyOptions,
        deadline: float | None,
        *,
        retry_greylisted: bool,
        policy: VerificationPolicy,
        cache: VerdictCache,
        resolver: MailRouteResolver,
        prober: SmtpProber,
        lists: AddressLists,
        save_later: SaveLater,
    ) -> None:
        self.policy = policy
        self.cache = cache
        self.resolver = resolver
        self.prober = prober
        self.lists = lists
        self.save_later = save_later
        self.items = items
        self.options = options
        self.deadline = deadline
        self.retry_greylisted = retry_greylisted
        self.started = time.monotonic()
        self.out: asyncio.Queue[tuple[int, Verdict] | None] = asyncio.Queue()
        # Key (the address as probed) -> the caller's (index, text) of every item that is it.
        self.callers: dict[str, list[tuple[int, str]]] = {}
        self.addresses: dict[str, EmailAddress] = {}
        self.to_cache: dict[str, Verdict] = {}
        self.changed_domains: dict[str, DomainFacts] = {}
        self.writes: list[asyncio.Task[None]] = []
        self.lookups = asyncio.Semaphore(self.policy.batch_concurrency)
        self.sessions = asyncio.Semaphore(self.policy.batch_concurrency)
        self.lanes: dict[str, deque[_DomainWork]] = defaultdict(deque)
        self.lane_workers: dict[str, int] = defaultdict(int)
        self.tasks: asyncio.TaskGroup | None = None

    async def stream(self) -> AsyncIterator[tuple[int, Verdict]]:
        """``(index, verdict)`` as each is decided."""
        task = asyncio.create_task(self._execute())
        try:
            while (item := await self.out.get()) is not None:
                yield item
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _execute(self) -> None:
        try:
            by_domain = self._parse()
            cached_domains = await self._from_cache(by_domain)
            async with asyncio.TaskGroup() as tasks:
                self.tasks = tasks
                for domain, keys in by_domain.items():
                    addresses = [self.addresses[key] for key in keys]
                    tasks.create_task(self._domain(domain, addresses, cached_domains.get(domain)))
            self._flush()
            if self.retry_greylisted:
                # A batch ends once its cache writes are in (the caller already has every verdict).
                await asyncio.shield(asyncio.gather(*self.writes))
        finally:
            self.out.put_nowait(None)

    # parsing and the cache

    def _parse(self) -> dict[str, list[str]]:
        by_domain: dict[str, list[str]] = defaultdict(list)
        for index, text in self.items:
            try:
                address = parse_address(text)
            except SyntaxProblem as problem:
                verdict = syntax_verdict(text, str(problem), utc_now(), time.monotonic() - self.started)
                self.out.put_nowait((index, verdict))
                continue
            key = address.smtp_address
            if key not in self.callers:
                self.callers[key] = []
                self.addresses[key] = address
                by_domain[address.ascii_domain].append(key)
            self.callers[key].append((index, text))
        return by_domain

    async def _from_cache(self, by_domain: dict[str, list[str]]) -> dict[str, DomainFacts]:
        """Emits the cached verdicts (dropping them from ``by_domain``); returns cached domain findings."""
        if self.options.refresh or not by_domain:
            return {}
        try:
            verdicts = await self.cache.verdicts(self.callers)
            for key, verdict in verdicts.items():
                by_domain[self.addresses[key].ascii_domain].remove(key)
                duration = time.monotonic() - self.started
                self._emit(key, replace(verdict, decided_by=Check.CACHE, duration=duration))
            for domain in [domain for domain, keys in by_domain.items() if not keys]:
                del by_domain[domain]
            return await self.cache.domain_facts(by_domain)
        except PyMongoError:
            log.warning("cache read failed; verifying without it", exc_info=True)
            return {}

    def _cache(self, key: str, verdict: Verdict) -> None:
        self.to_cache[key] = verdict
        if len(self.to_cache) >= CACHE_WRITE_BATCH and all(write.done() for write in self.writes):
            self._flush()

    def _flush(self) -> None:
        verdicts, self.to_cache = self.to_cache, {}
        domains, self.changed_domains = list(self.changed_domains.values()), {}
        if verdicts or domains:
            self.writes.append(self.save_later(verdicts, domains))

    # domains

    async def _domain(self, domain: str, addresses: list[EmailAddress], facts: DomainFacts | None) -> None:
        started = time.monotonic()
        if facts is None:
            async with self.lookups:
                facts = await self._facts(domain)
        not_probed = self._reason_not_to_probe(facts)
        if not_probed:
            for address in addresses:
                self._conclude(
                    facts, started, address, MailboxProbe(ProbeOutcome.NOT_PROBED, detail=not_probed)
                )
            return
        catch_all_address = f"lmverify-{secrets.token_hex(6)}@{facts.domain}"
        self._enqueue(_DomainWork(facts, addresses, started, catch_all_address, facts.hosts))

    async def _facts(self, domain: str) -> DomainFacts:
        route = await self.resolver.resolve(domain, self.deadline)
        lists = self.lists
        facts = DomainFacts(
            domain=domain,
            outcome=route.outcome,
            hosts=route.hosts,
            is_disposable=lists.is_disposable(domain),
            is_free_provider=lists.is_free_provider(domain),
            detail=route.detail,
        )
        if route.outcome is not DomainOutcome.DNS_FAILURE:
            self.changed_domains[domain] = facts
        return facts

    def _reason_not_to_probe(self, facts: DomainFacts) -> str:
        if facts.outcome is not DomainOutcome.ROUTABLE:
            return facts.detail
        if not self.policy.smtp_enabled:
            return "SMTP probing is disabled on this verifier"
        if self.options.skip_smtp:
            return "the SMTP probe was skipped on request"
        return ""

    def _conclude(
        self, facts: DomainFacts, started: float, address: EmailAddress, probe: MailboxProbe
    ) -> None:
        verdict = decide(
            address.normalized,
            address,
            facts,
            probe,
            is_role_account=self.lists.is_role_account(address.local_part),
            hints=self.policy.hints,
            checked_time=utc_now(),
            duration=time.monotonic() - started,
        )
        key = address.smtp_address
        if verdict.smtp_checked and verdict.status is not EmailStatus.UNKNOWN:
            self._cache(key, verdict)
        self._emit(key, verdict)

    def _emit(self, key: str, verdict: Verdict) -> None:
        _VERDICTS.add(1, {"status": verdict.status.value, "decided_by": verdict.decided_by.value})
        for index, text in self.callers[key]:
            self.out.put_nowait((index, replace(verdict, email=text)))

    # lanes: one per primary mail server

    def _enqueue(self, work: _DomainWork) -> None:
        lane = work.hosts[0].addresses[0]
        self.lanes[lane].append(work)
        if self.lane_workers[lane] < self.prober.sessions_per_server:
            self.lane_workers[lane] += 1
            assert self.tasks is not None
            self.tasks.create_task(self._lane(lane))

    async def _lane(self, lane: str) -> None:
        queue = self.lanes[lane]
        try:
            while queue:
                work = queue.popleft()
                async with self.sessions:
                    if work.attempt == 0:
                        work.started = time.monotonic() - (work.queued - work.started)
                    await self._probe(work)
                if work.greylisted:
                    assert self.tasks is not None
                    self.tasks.create_task(self._retry_later(work))
        finally:
            self.lane_workers[lane] -= 1

    async def _probe(self, work: _DomainWork) -> None:
        """Probes the work's addresses in sessions of ``recipients_per_session``; concludes each,
        except the greylisted ones when they may be retried, which are kept in ``work.greylisted``."""
        facts = work.facts
        retry = self._may_retry(work.attempt)
        # The budget grows with the RCPTs the server's pace allows (plus the catch-all probe): a
        # domain of many addresses is not cut for being large, only for a server that stalls.
        pacing = (len(work.addresses) + 1) / self.prober.limiter.rate
        budget = self.policy.domain_budget + pacing if self.policy.domain_budget else 0.0
        ends = time.monotonic() + budget if budget else None
        budgeted = ends is not None and (self.deadline is None or ends < self.deadline)
        deadline = ends if budgeted else self.deadline

        def on_probe(address: EmailAddress, probe: MailboxProbe, catch_all: bool | None) -> None:
            if catch_all is not None and catch_all != facts.catch_all:
                facts.catch_all = catch_all
                self.changed_domains[facts.domain] = facts
            if probe.outcome is ProbeOutcome.TIMEOUT and budgeted and time.monotonic() >= (ends or 0.0):
                detail = (
                    f"{probe.host or 'its mail server'} did not finish within the {budget:.1f} s the "
                    "domain may take (a tarpit or an overloaded server)"
                )
                probe = replace(probe, detail=detail)
                if probe.host:
                    self.prober.remember_slow(probe.host, f"{detail}; not tried again for a while")
            if probe.outcome is ProbeOutcome.GREYLISTED and retry:
                work.greylisted.append((address, probe.host))
            else:
                self._conclude(facts, work.started, address, probe)

        size = self.policy.recipients_per_session
        for start in range(0, len(work.addresses), size):
            await self.prober.probe(
                work.hosts,
                work.addresses[start : start + size],
                catch_all=facts.catch_all,
                catch_all_address=work.catch_all_address,
                deadline=deadline,
                on_probe=on_probe,
            )

    async def _retry_later(self, work: _DomainWork) -> None:
        """Greylisting remembers (client, sender, recipient): come back after the back-off with the
        same HELO name and sender (and catch-all probe address), to the server that greylisted."""
        await asyncio.sleep(self.policy.greylist_backoff)
        greylisting = {host for _, host in work.greylisted}
        hosts = tuple(sorted(work.hosts, key=lambda host: host.name not in greylisting))
        addresses = [address for address, _ in work.greylisted]
        self._enqueue(
            replace(work, addresses=addresses, hosts=hosts, attempt=work.attempt + 1, greylisted=[])
        )

    def _may_retry(self, attempt: int) -> bool:
        if not self.retry_greylisted or attempt >= self.policy.greylist_retries:
            return False
        if self.deadline is None:
            return True
        # Room for the back-off and a session after it.
        return self.deadline - time.monotonic() > self.policy.greylist_backoff + 5.0
