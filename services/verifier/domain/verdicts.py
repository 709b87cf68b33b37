"""From the checks' findings to one verdict, by the precedence a sales team relies on.

1. bad syntax, or a domain that takes no mail            -> invalid
2. the mail server refused the mailbox                  -> invalid
3. the domain accepts any address (catch-all)            -> catch-all
4. a disposable-mail domain                              -> disposable
5. a role account (info@, sales@, ...)                   -> role-based
6. the mail server accepted the mailbox                  -> valid
7. mailbox full, or a permanent refusal of unclear cause -> risky
8. anything else: timeouts, temporary failures, policy
   blocks, unreachable servers, no SMTP probe            -> unknown
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.verifier.domain.models import (
    Check,
    DomainFacts,
    DomainOutcome,
    EmailAddress,
    EmailStatus,
    MailboxProbe,
    ProbeOutcome,
    Verdict,
)

__all__ = ["RetryHints", "decide", "syntax_verdict"]


@dataclass(frozen=True)
class RetryHints:
    """Seconds after which an unknown verdict is worth asking for again."""

    greylisted: float
    temporary: float


_DOMAIN_REASONS = {
    DomainOutcome.NXDOMAIN: "the domain does not exist (NXDOMAIN)",
    DomainOutcome.NULL_MX: "the domain publishes a null MX: it accepts no mail (RFC 7505)",
    DomainOutcome.NO_MAIL_HOST: "the domain has no MX record and no address to deliver to",
    DomainOutcome.NON_PUBLIC_MX: "the domain's mail servers resolve only to private or loopback addresses",
}

_UNKNOWN_REASONS = {
    ProbeOutcome.POLICY: "the mail server refused the probe for a policy reason, not the mailbox",
    ProbeOutcome.GREYLISTED: "the mail server greylisted the probe; ask again later",
    ProbeOutcome.TEMPORARY: "the mail server answered with a temporary failure",
    ProbeOutcome.TIMEOUT: "the mail server did not answer in time",
    ProbeOutcome.UNREACHABLE: "no mail server of the domain could be reached",
    ProbeOutcome.UNSUPPORTED: "the address needs SMTPUTF8, which the mail server does not offer",
}

_TEMPORARY = {
    ProbeOutcome.GREYLISTED,
    ProbeOutcome.TEMPORARY,
    ProbeOutcome.TIMEOUT,
    ProbeOutcome.UNREACHABLE,
}


def syntax_verdict(email: str, problem: str, checked_time: datetime, duration: float) -> Verdict:
    return Verdict(
        email=email,
        status=EmailStatus.INVALID,
        decided_by=Check.SYNTAX,
        reason=f"bad syntax: {problem}",
        checked_time=checked_time,
        duration=duration,
    )


def decide(
    email: str,
    address: EmailAddress,
    facts: DomainFacts,
    probe: MailboxProbe,
    *,
    is_role_account: bool,
    hints: RetryHints,
    checked_time: datetime,
    duration: float,
) -> Verdict:
    """The verdict for ``address`` (given as ``email``) from everything the checks found."""
    status, check, reason = _precedence(facts, probe, is_role_account)
    reply = probe.reply
    retry_after: float | None = None
    if status is EmailStatus.UNKNOWN:
        if probe.outcome is ProbeOutcome.GREYLISTED:
            retry_after = hints.greylisted
        elif (
            probe.outcome in _TEMPORARY
            or (probe.outcome is ProbeOutcome.POLICY and not probe.permanent)
            or facts.outcome is DomainOutcome.DNS_FAILURE
        ):
            retry_after = hints.temporary
    return Verdict(
        email=email,
        status=status,
        decided_by=check,
        reason=reason,
        checked_time=checked_time,
        normalized_email=address.normalized,
        syntax_ok=True,
        domain=address.domain,
        mx_hosts=tuple(facts.mx_names),
        is_disposable=facts.is_disposable,
        is_role_account=is_role_account,
        is_free_provider=facts.is_free_provider,
        is_catch_all=facts.catch_all is True,
        mailbox_full=probe.outcome is ProbeOutcome.MAILBOX_FULL,
        smtp_checked=probe.attempted,
        smtp_code=reply.code if reply else 0,
        enhanced_status_code=reply.enhanced_text if reply else "",
        smtp_message=reply.message if reply else "",
        duration=duration,
        retry_after=retry_after,
    )


def _precedence(
    facts: DomainFacts, probe: MailboxProbe, is_role_account: bool
) -> tuple[EmailStatus, Check, str]:
    outcome = probe.outcome
    if facts.outcome.undeliverable:
        return EmailStatus.INVALID, Check.DNS, _DOMAIN_REASONS[facts.outcome]
    if outcome is ProbeOutcome.MAILBOX_UNKNOWN:
        return EmailStatus.INVALID, Check.SMTP, "the mail server refused the mailbox: it does not exist"
    if facts.catch_all:
        return (
            EmailStatus.CATCH_ALL,
            Check.CATCH_ALL,
            "the domain accepts mail for any address, so this mailbox cannot be confirmed",
        )
    if facts.is_disposable:
        return EmailStatus.DISPOSABLE, Check.DISPOSABLE, "the domain is a disposable-mail service"
    if is_role_account:
        return (
            EmailStatus.ROLE_BASED,
            Check.ROLE_ACCOUNT,
            "the address names a role or a team, not a person",
        )
    if outcome is ProbeOutcome.ACCEPTED:
        return EmailStatus.VALID, Check.SMTP, "the mail server accepted the mailbox"
    if outcome is ProbeOutcome.MAILBOX_FULL:
        return EmailStatus.RISKY, Check.SMTP, "the mailbox exists but is full"
    if outcome is ProbeOutcome.AMBIGUOUS:
        return EmailStatus.RISKY, Check.SMTP, "the mail server refused the mailbox for an unclear reason"
    if facts.outcome is DomainOutcome.DNS_FAILURE:
        return (
            EmailStatus.UNKNOWN,
            Check.DNS,
            f"the domain's mail servers could not be looked up: {facts.detail}",
        )
    if outcome is ProbeOutcome.NOT_PROBED:
        return (
            EmailStatus.UNKNOWN,
            Check.DNS,
            f"the domain takes mail, but the mailbox was not checked: {probe.detail}",
        )
    reason = _UNKNOWN_REASONS[outcome]
    return EmailStatus.UNKNOWN, Check.SMTP, f"{reason} ({probe.detail})" if probe.detail else reason
