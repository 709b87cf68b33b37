"""The verifier's domain: pure, typed, testable without a network."""

from services.verifier.domain.lists import AddressLists, address_lists
from services.verifier.domain.models import (
    Check,
    DomainFacts,
    DomainOutcome,
    EmailAddress,
    EmailStatus,
    MailboxProbe,
    MailHost,
    ProbeOutcome,
    SmtpReply,
    Verdict,
)
from services.verifier.domain.replies import classify_reply
from services.verifier.domain.syntax import SyntaxProblem, parse_address
from services.verifier.domain.verdicts import RetryHints, decide, syntax_verdict

__all__ = [
    "AddressLists",
    "Check",
    "DomainFacts",
    "DomainOutcome",
    "EmailAddress",
    "EmailStatus",
    "MailHost",
    "MailboxProbe",
    "ProbeOutcome",
    "RetryHints",
    "SmtpReply",
    "SyntaxProblem",
    "Verdict",
    "address_lists",
    "classify_reply",
    "decide",
    "parse_address",
    "syntax_verdict",
]
