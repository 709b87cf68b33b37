"""Verdict precedence, the address lists and syntax: the pure domain, without a network."""

from __future__ import annotations

import pytest

from libs.mongo import utc_now
from services.verifier.domain import (
    Check,
    DomainFacts,
    DomainOutcome,
    EmailStatus,
    MailboxProbe,
    MailHost,
    ProbeOutcome,
    RetryHints,
    SmtpReply,
    SyntaxProblem,
    Verdict,
    address_lists,
    decide,
    parse_address,
)
from services.verifier.limits import TokenBucket

HINTS = RetryHints(greylisted=300.0, temporary=900.0)
HOST = MailHost("mx.example.com", 10, ("192.0.2.1",))

ACCEPTED = MailboxProbe(ProbeOutcome.ACCEPTED, SmtpReply(250, "2.1.5 Ok"), HOST.name)
REFUSED = MailboxProbe(ProbeOutcome.MAILBOX_UNKNOWN, SmtpReply(550, "5.1.1 User unknown"), HOST.name)
FULL = MailboxProbe(ProbeOutcome.MAILBOX_FULL, SmtpReply(452, "4.2.2 Mailbox full"), HOST.name)
AMBIGUOUS = MailboxProbe(ProbeOutcome.AMBIGUOUS, SmtpReply(554, "Transaction failed"), HOST.name)
POLICY = MailboxProbe(ProbeOutcome.POLICY, SmtpReply(554, "5.7.1 blocked using zen.spamhaus.org"), HOST.name)
GREYLISTED = MailboxProbe(ProbeOutcome.GREYLISTED, SmtpReply(451, "4.7.1 Greylisted"), HOST.name)
TIMEOUT = MailboxProbe(ProbeOutcome.TIMEOUT, host=HOST.name, detail="no greeting")
NOT_PROBED = MailboxProbe(ProbeOutcome.NOT_PROBED, detail="SMTP probing is disabled")


def facts(
    outcome: DomainOutcome = DomainOutcome.ROUTABLE,
    *,
    catch_all: bool | None = False,
    disposable: bool = False,
    free: bool = False,
) -> DomainFacts:
    hosts = (HOST,) if outcome is DomainOutcome.ROUTABLE else ()
    return DomainFacts(
        "example.com", outcome, hosts, is_disposable=disposable, is_free_provider=free, catch_all=catch_all
    )


def verdict(domain: DomainFacts, probe: MailboxProbe, *, role: bool = False, local: str = "jane") -> Verdict:
    address = parse_address(f"{local}@example.com")
    return decide(
        address.normalized,
        address,
        domain,
        probe,
        is_role_account=role,
        hints=HINTS,
        checked_time=utc_now(),
        duration=0.01,
    )


PRECEDENCE = [
    # (case, domain facts, probe, role account, status, decided by)
    (
        "domain does not exist",
        facts(DomainOutcome.NXDOMAIN),
        NOT_PROBED,
        False,
        EmailStatus.INVALID,
        Check.DNS,
    ),
    (
        "null MX beats a role account",
        facts(DomainOutcome.NULL_MX),
        NOT_PROBED,
        True,
        EmailStatus.INVALID,
        Check.DNS,
    ),
    ("no mail host", facts(DomainOutcome.NO_MAIL_HOST), NOT_PROBED, False, EmailStatus.INVALID, Check.DNS),
    (
        "MX on private addresses",
        facts(DomainOutcome.NON_PUBLIC_MX),
        NOT_PROBED,
        False,
        EmailStatus.INVALID,
        Check.DNS,
    ),
    ("mailbox refused", facts(), REFUSED, False, EmailStatus.INVALID, Check.SMTP),
    ("refused beats disposable", facts(disposable=True), REFUSED, True, EmailStatus.INVALID, Check.SMTP),
    ("catch-all", facts(catch_all=True), ACCEPTED, False, EmailStatus.CATCH_ALL, Check.CATCH_ALL),
    (
        "catch-all beats disposable",
        facts(catch_all=True, disposable=True),
        ACCEPTED,
        True,
        EmailStatus.CATCH_ALL,
        Check.CATCH_ALL,
    ),
    (
        "disposable beats role",
        facts(disposable=True),
        ACCEPTED,
        True,
        EmailStatus.DISPOSABLE,
        Check.DISPOSABLE,
    ),
    ("role account accepted", facts(), ACCEPTED, True, EmailStatus.ROLE_BASED, Check.ROLE_ACCOUNT),
    ("role account not probed", facts(), NOT_PROBED, True, EmailStatus.ROLE_BASED, Check.ROLE_ACCOUNT),
    ("accepted", facts(), ACCEPTED, False, EmailStatus.VALID, Check.SMTP),
    ("free provider accepted", facts(free=True), ACCEPTED, False, EmailStatus.VALID, Check.SMTP),
    ("mailbox full", facts(), FULL, False, EmailStatus.RISKY, Check.SMTP),
    ("ambiguous permanent refusal", facts(), AMBIGUOUS, False, EmailStatus.RISKY, Check.SMTP),
    ("policy block is not invalid", facts(), POLICY, False, EmailStatus.UNKNOWN, Check.SMTP),
    ("greylisted", facts(), GREYLISTED, False, EmailStatus.UNKNOWN, Check.SMTP),
    ("timeout", facts(), TIMEOUT, False, EmailStatus.UNKNOWN, Check.SMTP),
    ("dns failure", facts(DomainOutcome.DNS_FAILURE), NOT_PROBED, False, EmailStatus.UNKNOWN, Check.DNS),
    ("smtp disabled", facts(), NOT_PROBED, False, EmailStatus.UNKNOWN, Check.DNS),
]


@pytest.mark.parametrize(
    ("domain", "probe", "role", "status", "check"),
    [row[1:] for row in PRECEDENCE],
    ids=[row[0] for row in PRECEDENCE],
)
def test_precedence(
    domain: DomainFacts, probe: MailboxProbe, role: bool, status: EmailStatus, check: Check
) -> None:
    decided = verdict(domain, probe, role=role)
    assert (decided.status, decided.decided_by) == (status, check)


def test_flags_are_reported_whatever_decided() -> None:
    decided = verdict(facts(catch_all=True, disposable=True, free=True), FULL, role=True)
    assert decided.status is EmailStatus.CATCH_ALL
    assert (
        decided.is_catch_all
        and decided.is_disposable
        and decided.is_free_provider
        and decided.is_role_account
    )
    assert decided.mailbox_full
    assert (decided.smtp_code, decided.enhanced_status_code) == (452, "4.2.2")
    assert decided.smtp_checked and decided.syntax_ok
    assert decided.mx_hosts == ("mx.example.com",)


def test_retry_hint_only_for_temporary_unknowns() -> None:
    assert verdict(facts(), GREYLISTED).retry_after == HINTS.greylisted
    assert verdict(facts(), TIMEOUT).retry_after == HINTS.temporary
    assert verdict(facts(DomainOutcome.DNS_FAILURE), NOT_PROBED).retry_after == HINTS.temporary
    assert verdict(facts(), POLICY).retry_after is None
    assert verdict(facts(), ACCEPTED).retry_after is None


def test_unprobed_verdict_says_so() -> None:
    decided = verdict(facts(), NOT_PROBED)
    assert not decided.smtp_checked
    assert "not checked" in decided.reason and "disabled" in decided.reason


@pytest.mark.parametrize(
    ("local", "role"),
    [
        ("info", True),
        ("Sales", True),
        ("no-reply", True),
        ("no_reply+news", True),
        ("NoReply", True),
        ("support", True),
        ("postmaster", True),
        ("jane.doe", False),
        ("information.officer", False),
        ("sam", False),
    ],
)
def test_role_accounts(local: str, role: bool) -> None:
    assert address_lists().is_role_account(local) is role


def test_disposable_and_free_providers() -> None:
    lists = address_lists()
    assert lists.is_disposable("mailinator.com")
    assert lists.is_disposable("inbox.mailinator.com")
    assert not lists.is_disposable("acme-corp.com")
    assert lists.is_free_provider("gmail.com") and lists.is_free_provider("Outlook.com")
    assert not lists.is_free_provider("acme-corp.com")


def test_syntax_normalizes_domains_and_keeps_internationalized_addresses() -> None:
    address = parse_address("  José@Ünicode-Corp.COM ")
    assert address.normalized == "José@ünicode-corp.com"
    assert address.ascii_domain == "xn--nicode-corp-shb.com"
    assert address.smtp_address == "José@xn--nicode-corp-shb.com"
    assert address.needs_smtputf8
    assert not parse_address("jane@acme-corp.com").needs_smtputf8


@pytest.mark.parametrize(
    "text",
    ["", "plainaddress", "a..b@example.com", "jane@", "@example.com", "jane@example", "jane@[192.0.2.1]"],
)
def test_bad_syntax(text: str) -> None:
    with pytest.raises(SyntaxProblem):
        parse_address(text)


def test_token_bucket_spaces_reservations_at_the_rate() -> None:
    bucket = TokenBucket(rate=10.0, burst=2.0)
    waits = [bucket.reserve(now=100.0) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2])
    # One second later the bucket has refilled to its burst, no more.
    assert bucket.reserve(now=101.3) == 0.0
    assert bucket.reserve(now=101.3) == 0.0
    assert bucket.reserve(now=101.3) == pytest.approx(0.1)
    bucket.cancel()
    assert bucket.reserve(now=101.3) == pytest.approx(0.1)
