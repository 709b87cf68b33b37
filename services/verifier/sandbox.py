"""Test-mode verification (an ``lm_test_`` key): verdicts for the sandbox's addresses decided from
its world's mail plan (:mod:`services.demo_world.sandbox`), by the same rules as a real check
(:func:`services.verifier.domain.decide`), with no DNS query and no SMTP session.

Each address gets the RCPT reply the demo world's mail server would give (a listed mailbox 250,
a former employee 550, a full mailbox 452, a catch-all domain 250 for anything, a greylisting
domain 451); a lapsed company domain does not resolve. An address outside the sandbox is answered
``unknown``: test mode verifies nothing outside it. Nothing is cached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from libs.mongo import utc_now
from services.demo_world.sandbox import Sandbox, sandbox
from services.demo_world.world import MX_HOST
from services.providers.demo import DISPOSABLE_DOMAIN
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
    RetryHints,
    SmtpReply,
    SyntaxProblem,
    Verdict,
    classify_reply,
    decide,
    parse_address,
    syntax_verdict,
)

__all__ = ["SandboxVerifier"]

OUTSIDE = "test mode verifies only the sandbox directory's addresses (domains under .example)"


def _rcpt(world: Sandbox, address: str, domain: str) -> SmtpReply:
    """What the sandbox world's mail server answers to ``RCPT TO:<address>``."""
    plan = world.plan
    if domain in plan.greylisting:
        return SmtpReply(451, f"4.7.1 <{address}>: Recipient address rejected: Greylisted")
    if address in plan.full:
        return SmtpReply(452, f"4.2.2 <{address}>: Recipient address rejected: Mailbox full")
    if domain in plan.catch_all or address in plan.mailboxes:
        return SmtpReply(250, "2.1.5 Ok")
    return SmtpReply(550, f"5.1.1 <{address}>: Recipient address rejected: User unknown")


class SandboxVerifier:
    def __init__(self, lists: AddressLists, hints: RetryHints):
        self.lists = lists.with_disposable([DISPOSABLE_DOMAIN])
        self.hints = hints

    async def verify(self, email: str) -> Verdict:
        return self._decide(await sandbox(), email)

    async def verify_batch(self, items: Sequence[tuple[int, str]]) -> AsyncIterator[tuple[int, Verdict]]:
        world = await sandbox()
        for index, email in items:
            yield index, self._decide(world, email)

    def _decide(self, world: Sandbox, email: str) -> Verdict:
        now = utc_now()
        try:
            address = parse_address(email)
        except SyntaxProblem as problem:
            return syntax_verdict(email, str(problem), now, 0.0)
        domain = address.domain
        if domain not in world.plan.domains and domain not in world.plan.lapsed:
            return self._outside(email, address)
        role = self.lists.is_role_account(address.local_part)
        facts = DomainFacts(
            domain,
            DomainOutcome.NXDOMAIN if domain in world.plan.lapsed else DomainOutcome.ROUTABLE,
            hosts=() if domain in world.plan.lapsed else (MailHost(MX_HOST, 10, ()),),
            is_disposable=self.lists.is_disposable(domain),
            catch_all=domain in world.plan.catch_all,
        )
        probe = MailboxProbe(ProbeOutcome.NOT_PROBED)
        if facts.outcome is DomainOutcome.ROUTABLE:
            reply = _rcpt(world, address.normalized.lower(), domain)
            probe = MailboxProbe(classify_reply(reply), reply, MX_HOST)
        return decide(
            email,
            address,
            facts,
            probe,
            is_role_account=role,
            hints=self.hints,
            checked_time=now,
            duration=0.0,
        )

    @staticmethod
    def _outside(email: str, address: EmailAddress) -> Verdict:
        return Verdict(
            email=email,
            status=EmailStatus.UNKNOWN,
            decided_by=Check.DNS,
            reason=OUTSIDE,
            checked_time=utc_now(),
            normalized_email=address.normalized,
            syntax_ok=True,
            domain=address.domain,
        )
