"""The reply classifier over replies real mail servers send to RCPT TO (multi-line replies as
aiosmtplib hands them over: one line per reply line, without the code and its dash)."""

from __future__ import annotations

import pytest

from services.verifier.domain import ProbeOutcome, SmtpReply, classify_reply

ACCEPTED = ProbeOutcome.ACCEPTED
UNKNOWN_MAILBOX = ProbeOutcome.MAILBOX_UNKNOWN
FULL = ProbeOutcome.MAILBOX_FULL
POLICY = ProbeOutcome.POLICY
GREYLISTED = ProbeOutcome.GREYLISTED
TEMPORARY = ProbeOutcome.TEMPORARY
AMBIGUOUS = ProbeOutcome.AMBIGUOUS

REPLIES = [
    # Gmail / Google Workspace
    ("gmail accepted", 250, "2.1.5 OK a1-20020a05600c0b4100b003f4f1b8 - gsmtp", ACCEPTED),
    (
        "gmail no such user",
        550,
        "5.1.1 The email account that you tried to reach does not exist. Please try\n"
        "5.1.1 double-checking the recipient's email address for typos or\n"
        "5.1.1 unnecessary spaces. For more information, go to\n"
        "5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp",
        UNKNOWN_MAILBOX,
    ),
    (
        "gmail account disabled",
        550,
        "5.2.1 The email account that you tried to reach is disabled. a1si - gsmtp",
        UNKNOWN_MAILBOX,
    ),
    (
        "gmail over quota",
        452,
        "4.2.2 The recipient's inbox is out of storage space. Please direct the\n"
        "4.2.2 recipient to\n4.2.2  https://support.google.com/mail/?p=OverQuotaTemp a1si - gsmtp",
        FULL,
    ),
    (
        "gmail receiving too fast",
        450,
        "4.2.1 The user you are trying to contact is receiving mail at a rate that\n"
        "4.2.1 prevents additional messages from being delivered. a1si - gsmtp",
        TEMPORARY,
    ),
    (
        "gmail IP not authorized",
        550,
        "5.7.1 [203.0.113.7] The IP you're using to send mail is not authorized to\n"
        "5.7.1 send email directly to our servers. Please use the SMTP relay at your\n"
        "5.7.1 service provider instead. a1si - gsmtp",
        POLICY,
    ),
    (
        "gmail unsolicited rate",
        421,
        "4.7.28 [203.0.113.7] Our system has detected an unusual rate of\n"
        "4.7.28 unsolicited mail originating from your IP address. a1si - gsmtp",
        POLICY,
    ),
    (
        "gmail try again later",
        421,
        "4.7.0 Try again later, closing connection. (EHLO) a1si - gsmtp",
        TEMPORARY,
    ),
    # Microsoft 365 / Outlook.com
    (
        "exchange online recipient not found",
        550,
        "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@contoso.com not found by SMTP "
        "address lookup",
        UNKNOWN_MAILBOX,
    ),
    (
        "exchange online directory-based edge blocking",
        550,
        "5.4.1 Recipient address rejected: Access denied. For more information see "
        "https://aka.ms/EXOSmtpErrors [AM0PR02MB1234.eurprd02.prod.outlook.com 2024-05-01T10:00:00.000Z]",
        UNKNOWN_MAILBOX,
    ),
    (
        "outlook.com mailbox unavailable",
        550,
        "5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DB5EUR03FT012.eop-EUR03.prod]",
        UNKNOWN_MAILBOX,
    ),
    (
        "outlook.com banned IP",
        550,
        "5.7.606 Access denied, banned sending IP [203.0.113.7]. To request removal from this list "
        "please visit https://sender.office.com/ and follow the directions.",
        POLICY,
    ),
    (
        "outlook.com block list",
        550,
        "5.7.1 Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your Internet "
        "service provider since part of their network is on our block list (S3150).",
        POLICY,
    ),
    (
        "exchange server busy",
        451,
        "4.7.500 Server busy. Please try again later from [203.0.113.7]. (S77714)",
        TEMPORARY,
    ),
    ("exchange system resources", 452, "4.3.1 Insufficient system resources", TEMPORARY),
    (
        "exchange quota exceeded",
        554,
        "5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException."
        "MapiExceptionShutoffQuotaExceeded",
        FULL,
    ),
    # Yahoo / AOL
    (
        "yahoo no such account",
        554,
        "delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.com) [0] - "
        "mta1021.mail.gq1.yahoo.com",
        UNKNOWN_MAILBOX,
    ),
    (
        "yahoo disabled mailbox",
        554,
        "delivery error: dd Sorry your message to old@yahoo.com cannot be delivered. This mailbox is "
        "disabled (554.30). - mta1021.mail.gq1.yahoo.com",
        UNKNOWN_MAILBOX,
    ),
    (
        "yahoo mailbox not found on a 552",
        552,
        "1 Requested mail action aborted, mailbox not found",
        UNKNOWN_MAILBOX,
    ),
    (
        "yahoo spamhaus block",
        553,
        "5.7.1 [BL21] Connections will not be accepted from 203.0.113.7, because the ip is in "
        "Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        POLICY,
    ),
    (
        "yahoo deferred volume",
        421,
        "4.7.0 [TSS04] Messages from 203.0.113.7 temporarily deferred due to unexpected volume or user "
        "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        POLICY,
    ),
    ("yahoo policy", 554, "5.7.9 Message not accepted for policy reasons.", POLICY),
    # Apple, Zoho
    ("icloud no such user", 550, "5.1.1 <nobody@icloud.com>: user does not exist", UNKNOWN_MAILBOX),
    ("zoho no such user", 550, "5.1.1 User does not exist - nobody@zoho.com", UNKNOWN_MAILBOX),
    # Security gateways: Proofpoint, Mimecast, Barracuda
    (
        "proofpoint IP block",
        554,
        "5.7.1 [203.0.113.7] Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.7",
        POLICY,
    ),
    ("proofpoint user unknown", 550, "5.1.1 User Unknown", UNKNOWN_MAILBOX),
    (
        "mimecast envelope blocked",
        550,
        "Administrative prohibition - envelope blocked - "
        "https://community.mimecast.com/docs/DOC-1369#550 [a1b2.us8]",
        POLICY,
    ),
    (
        "mimecast invalid recipient",
        550,
        "Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [a1b2.eu123]",
        UNKNOWN_MAILBOX,
    ),
    (
        "mimecast temporarily unavailable",
        451,
        "Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451",
        TEMPORARY,
    ),
    (
        "barracuda blocked",
        550,
        "permanent failure for one or more recipients (ceo@example.com:blocked)",
        POLICY,
    ),
    # Postfix defaults
    (
        "postfix local recipient",
        550,
        "5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",
        UNKNOWN_MAILBOX,
    ),
    (
        "postfix virtual mailbox",
        550,
        "5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
        UNKNOWN_MAILBOX,
    ),
    ("postfix relay denied", 554, "5.7.1 <someone@elsewhere.com>: Relay access denied", POLICY),
    (
        "postfix no reverse hostname",
        450,
        "4.7.1 Client host rejected: cannot find your reverse hostname, [203.0.113.7]",
        POLICY,
    ),
    (
        "postfix rbl",
        554,
        "5.7.1 Service unavailable; Client host [203.0.113.7] blocked using zen.spamhaus.org; "
        "https://www.spamhaus.org/query/ip/203.0.113.7",
        POLICY,
    ),
    (
        "postgrey",
        450,
        "4.2.0 <a@example.com>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/example.com.html",
        GREYLISTED,
    ),
    ("milter-greylist", 451, "4.7.1 Greylisting in action, please come back in 00:05:00", GREYLISTED),
    ("bare 4.7.1 deferral", 451, "4.7.1 Please try again later", GREYLISTED),
    (
        "postfix unverified recipient",
        450,
        "4.1.1 <a@example.com>: Recipient address rejected: unverified address: host mx.example.com"
        "[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command)",
        TEMPORARY,
    ),
    ("postfix too many recipients", 452, "4.5.3 Error: too many recipients", TEMPORARY),
    ("postfix mailbox full", 552, "5.2.2 <a@example.com>: Recipient address rejected: Mailbox full", FULL),
    ("postfix timeout", 421, "4.4.2 mx.example.com Error: timeout exceeded", TEMPORARY),
    # Exim defaults
    ("exim unrouteable", 550, "Unrouteable address", UNKNOWN_MAILBOX),
    ("cpanel exim no such user", 550, "No Such User Here", UNKNOWN_MAILBOX),
    (
        "exim sender verify callout",
        550,
        "Verification failed for <probe@verifier.example>\nUnrouteable address\nSender verify failed",
        POLICY,
    ),
    ("exim temporary", 451, "Temporary local problem - please try later", TEMPORARY),
    ("exim prohibition", 550, "Administrative prohibition", POLICY),
    ("exim dnsbl", 550, "rejected because 203.0.113.7 is in a black list at zen.spamhaus.org", POLICY),
    ("exim mailbox full", 552, "nobody@example.com: mailbox is full", FULL),
    # qmail writes the enhanced code last
    ("qmail no mailbox", 511, "sorry, no mailbox here by that name (#5.1.1)", UNKNOWN_MAILBOX),
    ("qmail rcpthosts", 553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", POLICY),
    # A policy code is never "unknown mailbox" unless the text says so
    (
        "5.7.1 that says no such user",
        550,
        "5.7.1 <a@example.com>: Recipient address rejected: no such user",
        UNKNOWN_MAILBOX,
    ),
    ("5.7.1 access denied", 554, "5.7.1 <a@example.com>: Recipient address rejected: Access denied", POLICY),
    # Permanent refusals that say nothing useful
    ("bare rejected", 550, "Rejected", AMBIGUOUS),
    ("transaction failed", 554, "Transaction failed", AMBIGUOUS),
    ("5.0.0 unexplained", 550, "5.0.0 Unable to deliver", AMBIGUOUS),
    ("bare 552 without text", 552, "Requested mail action aborted", AMBIGUOUS),
]


@pytest.mark.parametrize(
    ("code", "message", "expected"), [row[1:] for row in REPLIES], ids=[row[0] for row in REPLIES]
)
def test_reply_is_classified_by_enhanced_code_then_text(
    code: int, message: str, expected: ProbeOutcome
) -> None:
    assert classify_reply(SmtpReply(code, message)) is expected


@pytest.mark.parametrize(
    ("code", "message", "enhanced"),
    [
        (550, "5.1.1 User unknown", "5.1.1"),
        (511, "sorry, no mailbox here by that name (#5.1.1)", "5.1.1"),
        # An IP address or a code of another class is not an enhanced status code.
        (554, "Client host [5.7.1.2] blocked", ""),
        (550, "4.7.1 mismatched class", ""),
        (421, "4.7.0 [TSS04] deferred - 4.16.55.1", "4.7.0"),
    ],
)
def test_enhanced_status_code_is_read_from_the_reply(code: int, message: str, enhanced: str) -> None:
    assert SmtpReply(code, message).enhanced_text == enhanced
