"""The verifier's domain: pure, typed, testable without a network.

``models`` (addresses, domain facts, probes, verdicts), ``syntax`` (parsing an address), ``lists``
(disposable, role and free-mail lists), ``replies`` (what an SMTP reply means), ``verdicts`` (the
findings' precedence, one verdict) and ``policy`` (a call's options, the verifier's policy).
"""

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
from services.verifier.domain.policy import VerificationPolicy, VerifyOptions
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
    "VerificationPolicy",
    "VerifyOptions",
    "address_lists",
    "classify_reply",
    "decide",
    "parse_address",
    "syntax_verdict",
]
