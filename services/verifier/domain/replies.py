"""What an SMTP reply to RCPT says about the mailbox: by its RFC 3463 enhanced status code first,
then by its text.

Servers disagree on codes, so the rules are driven by replies seen in the wild (Gmail,
Microsoft 365/Outlook.com, Yahoo/AOL, Proofpoint, Mimecast, Barracuda, Postfix, Exim, qmail).
A policy block (``5.7.x``, a blocklisted IP, no reverse DNS, relaying denied) says nothing about
the mailbox and is never read as "mailbox unknown", unless its text says the mailbox does not
exist.
"""

from __future__ import annotations

import re

from services.verifier.domain.models import ProbeOutcome, SmtpReply

__all__ = ["classify_reply"]


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile("|".join(rf"\b{phrase}\b" for phrase in phrases), re.IGNORECASE)


# The text says, in so many words, that there is no such mailbox. Strong enough to override a
# policy-looking code.
_NO_SUCH_MAILBOX = _words(
    r"(?:does|do|did)\s?(?:n['’]?t|not) exist",
    r"no such (?:user|mailbox|recipient|account|address)",
    r"(?:user|recipient|mailbox|address|account)(?: name)? (?:is )?(?:unknown|not found|not known)",
    r"unknown (?:user|recipient|mailbox|address|local part)",
    r"(?:user|recipient|mailbox|account)\s?not\s?found",
    r"recipientnotfound",
    r"no mailbox here",
    r"doesn['’]?t have an? [\w.-]+ account",
    r"(?:mailbox|account)(?: has been| is)? disabled",
    r"(?:mailbox|account)(?: has been| is)? (?:deactivated|closed|suspended|inactive)",
    r"no longer (?:exists|active|in use)",
    r"not a valid (?:mailbox|recipient|user)",
    r"invalid (?:recipient|mailbox|user)",
    r"bad destination mailbox",
)
# Typical of an unknown mailbox but also of other refusals; read only when nothing says policy.
_PROBABLY_NO_MAILBOX = _words(
    r"mailbox unavailable",
    r"unroutea?ble address",
    r"address rejected",
    r"undeliverable address",
    r"invalid address",
)
# The refusal is about our envelope sender (e.g. Exim's callout "Sender verify failed").
_ABOUT_SENDER = _words(
    r"sender verify",
    r"sender address rejected",
    r"sender (?:is )?(?:rejected|denied|blocked)",
    r"verification failed for",
)
_POLICY = _words(
    r"block(?:ed|ing|list(?:ed)?)?",
    r"black ?list(?:ed)?",
    r"deny ?list(?:ed)?",
    r"listed",
    r"spamhaus",
    r"spamcop",
    r"sorbs",
    r"barracuda",
    r"dnsbl",
    r"rbl",
    r"reputation",
    r"reverse (?:dns|hostname|lookup)",
    r"rdns",
    r"ptr",
    r"cannot find your (?:reverse )?hostname",
    r"client host rejected",
    r"polic(?:y|ies)",
    r"not authori[sz]ed",
    r"not permitted",
    r"not allowed",
    r"prohibit(?:ed|ion)",
    r"denied",
    r"banned",
    r"refused",
    r"spam",
    r"unsolicited",
    r"abuse",
    r"relay(?:ing)?",
    r"authentication required",
    r"too many connections",
    r"complaints",
)
_GREYLIST = _words(r"gr[ae]y-?list(?:ed|ing)?")
_FULL = _words(
    r"(?:mailbox|inbox|mail ?box|mail ?folder)(?: is)? full",
    r"(?:over|exceed(?:ed|s)?(?: its| the| their)?) (?:quota|storage)",
    r"quota exceeded",
    r"out of storage",
    r"insufficient (?:disk space|storage) (?:for|in) (?:the )?(?:mailbox|user)",
    r"mailbox size limit",
)

# (subject, detail) of permanent enhanced codes that mean the address does not exist:
# bad destination mailbox (1.1), bad destination system (1.2), bad mailbox syntax (1.3),
# mailbox moved with no forwarding address (1.6), Exchange's RecipientNotFound (1.10),
# mailbox disabled (2.1).
_NO_MAILBOX_CODES = {(1, 1), (1, 2), (1, 3), (1, 6), (1, 10), (2, 1)}


def classify_reply(reply: SmtpReply) -> ProbeOutcome:
    """The probe outcome of the reply to ``RCPT TO`` (also used for MAIL FROM, whose refusals
    are never read as the mailbox's)."""
    klass = reply.code // 100
    if klass == 2:
        return ProbeOutcome.ACCEPTED
    if klass not in (4, 5):
        return ProbeOutcome.TEMPORARY
    text = reply.message
    if _ABOUT_SENDER.search(text):
        return ProbeOutcome.POLICY
    enhanced = reply.enhanced
    if enhanced is not None:
        decided = _by_enhanced_code(klass, enhanced[1], enhanced[2], text)
        if decided is not None:
            return decided
    return _by_text(klass, text)


def _by_enhanced_code(klass: int, subject: int, detail: int, text: str) -> ProbeOutcome | None:
    if (subject, detail) == (2, 2) or (subject == 2 and _FULL.search(text)):
        return ProbeOutcome.MAILBOX_FULL
    if klass == 4:
        if subject == 7:
            if _POLICY.search(text):
                return ProbeOutcome.POLICY
            if detail == 1 or _GREYLIST.search(text):
                return ProbeOutcome.GREYLISTED
            return ProbeOutcome.TEMPORARY
        return ProbeOutcome.GREYLISTED if _GREYLIST.search(text) else ProbeOutcome.TEMPORARY
    if subject == 7:
        return ProbeOutcome.MAILBOX_UNKNOWN if _NO_SUCH_MAILBOX.search(text) else ProbeOutcome.POLICY
    if (subject, detail) in _NO_MAILBOX_CODES:
        return ProbeOutcome.MAILBOX_UNKNOWN
    if (subject, detail) == (4, 1) and re.search(r"recipient address rejected", text, re.IGNORECASE):
        # Exchange Online's directory-based edge blocking: "550 5.4.1 Recipient address
        # rejected: Access denied" is its answer for a recipient not in the directory.
        return ProbeOutcome.MAILBOX_UNKNOWN
    # Undefined details (x.0.0, 5.5.0, ...): the text decides.
    return None


def _by_text(klass: int, text: str) -> ProbeOutcome:
    if klass == 4:
        if _GREYLIST.search(text):
            return ProbeOutcome.GREYLISTED
        return ProbeOutcome.POLICY if _POLICY.search(text) else ProbeOutcome.TEMPORARY
    if _NO_SUCH_MAILBOX.search(text):
        return ProbeOutcome.MAILBOX_UNKNOWN
    if _FULL.search(text):
        return ProbeOutcome.MAILBOX_FULL
    if _POLICY.search(text):
        return ProbeOutcome.POLICY
    if _PROBABLY_NO_MAILBOX.search(text):
        return ProbeOutcome.MAILBOX_UNKNOWN
    return ProbeOutcome.AMBIGUOUS
