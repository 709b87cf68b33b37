"""Address syntax and normalization (RFC 5321/5322, internationalized domains, SMTPUTF8) with
email-validator, without its network step: DNS is the resolver's job."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from services.verifier.domain.models import EmailAddress

__all__ = ["SyntaxProblem", "parse_address"]


class SyntaxProblem(ValueError):
    """The address is not one mail can be sent to; the message says why."""


def parse_address(text: str) -> EmailAddress:
    """The normalized address, or :class:`SyntaxProblem`.

    Quoted local parts, domain literals (``user@[1.2.3.4]``) and display names are refused: no
    mailbox a sales team writes to looks like that, and they are a common vector of bad data.
    """
    candidate = text.strip()
    if not candidate:
        raise SyntaxProblem("the address is empty")
    try:
        checked = validate_email(candidate, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as error:
        raise SyntaxProblem(str(error)) from None
    return EmailAddress(
        local_part=checked.local_part,
        domain=checked.domain,
        ascii_domain=checked.ascii_domain,
    )
