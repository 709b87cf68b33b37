"""The verifier's vocabulary: addresses, domain facts, SMTP replies and probes, verdicts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "Check",
    "DomainFacts",
    "DomainOutcome",
    "EmailAddress",
    "EmailStatus",
    "MailHost",
    "MailboxProbe",
    "ProbeOutcome",
    "SmtpReply",
    "Verdict",
]


class EmailStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    RISKY = "risky"
    CATCH_ALL = "catch-all"
    DISPOSABLE = "disposable"
    ROLE_BASED = "role-based"
    UNKNOWN = "unknown"


class Check(StrEnum):
    """The check that decided a verdict."""

    SYNTAX = "syntax"
    DNS = "dns"
    DISPOSABLE = "disposable"
    ROLE_ACCOUNT = "role_account"
    SMTP = "smtp"
    CATCH_ALL = "catch_all"
    CACHE = "cache"


@dataclass(frozen=True)
class EmailAddress:
    """A syntactically valid address, normalized (domain lowercased, IDNA-checked)."""

    local_part: str
    # Unicode form of the domain, and its ASCII (IDNA) form used in DNS and SMTP.
    domain: str
    ascii_domain: str

    @property
    def normalized(self) -> str:
        return f"{self.local_part}@{self.domain}"

    @property
    def smtp_address(self) -> str:
        """The address as written in RCPT TO (the ASCII domain whenever it is enough)."""
        return f"{self.local_part}@{self.ascii_domain}"

    @property
    def needs_smtputf8(self) -> bool:
        return not self.local_part.isascii()


class DomainOutcome(StrEnum):
    """What DNS says about a domain's mail."""

    ROUTABLE = "routable"
    NXDOMAIN = "nxdomain"
    NULL_MX = "null_mx"
    NO_MAIL_HOST = "no_mail_host"
    # Every mail host resolves to private, loopback or other non-public addresses.
    NON_PUBLIC_MX = "non_public_mx"
    # Timeout or server failure: nothing can be concluded now.
    DNS_FAILURE = "dns_failure"

    @property
    def undeliverable(self) -> bool:
        return self in _UNDELIVERABLE


_UNDELIVERABLE = {
    DomainOutcome.NXDOMAIN,
    DomainOutcome.NULL_MX,
    DomainOutcome.NO_MAIL_HOST,
    DomainOutcome.NON_PUBLIC_MX,
}


@dataclass(frozen=True)
class MailHost:
    """One MX target (or the domain itself, as the implicit MX) and the addresses to connect to."""

    name: str
    preference: int
    addresses: tuple[str, ...]


@dataclass
class DomainFacts:
    domain: str
    outcome: DomainOutcome
    hosts: tuple[MailHost, ...] = ()
    is_disposable: bool = False
    is_free_provider: bool = False
    # True when the domain accepts any local part, False when it refused a random one, None untested.
    catch_all: bool | None = None
    detail: str = ""

    @property
    def mx_names(self) -> list[str]:
        return [host.name for host in self.hosts]


_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


@dataclass(frozen=True)
class SmtpReply:
    """One server reply; ``message`` is the text of all its lines, joined by newlines."""

    code: int
    message: str

    @property
    def enhanced(self) -> tuple[int, int, int] | None:
        """The RFC 3463 status code (``5.1.1``) of the reply, when it carries one of its own class.

        Most servers put it first on each line; qmail writes it last, as ``(#5.1.1)``.
        """
        for match in _ENHANCED.finditer(self.message):
            klass, subject, detail = (int(part) for part in match.groups())
            if klass == self.code // 100:
                return klass, subject, detail
        return None

    @property
    def enhanced_text(self) -> str:
        code = self.enhanced
        return ".".join(map(str, code)) if code else ""

    @property
    def text(self) -> str:
        """The message without its enhanced status codes, on one line."""
        lines = (_ENHANCED.sub("", line, count=1).strip() for line in self.message.splitlines())
        return " ".join(line for line in lines if line)


class ProbeOutcome(StrEnum):
    """What an SMTP probe of one mailbox found."""

    ACCEPTED = "accepted"
    MAILBOX_UNKNOWN = "mailbox_unknown"
    MAILBOX_FULL = "mailbox_full"
    # Permanent rejection whose reason cannot be told (neither the mailbox nor a policy).
    AMBIGUOUS = "ambiguous"
    POLICY = "policy"
    GREYLISTED = "greylisted"
    TEMPORARY = "temporary"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    # The address needs SMTPUTF8 and the server does not offer it.
    UNSUPPORTED = "unsupported"
    NOT_PROBED = "not_probed"


@dataclass(frozen=True)
class MailboxProbe:
    outcome: ProbeOutcome
    reply: SmtpReply | None = None
    host: str = ""
    detail: str = ""

    @property
    def attempted(self) -> bool:
        return self.outcome is not ProbeOutcome.NOT_PROBED

    @property
    def permanent(self) -> bool:
        return self.reply is not None and self.reply.code >= 500


@dataclass(frozen=True)
class Verdict:
    """The answer for one address, with every flag behind it."""

    email: str
    status: EmailStatus
    decided_by: Check
    reason: str
    checked_time: datetime
    normalized_email: str = ""
    syntax_ok: bool = False
    domain: str = ""
    mx_hosts: tuple[str, ...] = ()
    is_disposable: bool = False
    is_role_account: bool = False
    is_free_provider: bool = False
    is_catch_all: bool = False
    mailbox_full: bool = False
    smtp_checked: bool = False
    smtp_code: int = 0
    enhanced_status_code: str = ""
    smtp_message: str = ""
    # Seconds.
    duration: float = 0.0
    retry_after: float | None = None
