"""What every entry point agrees on about a raw lead: when it is usable, what it costs, and how
many contacts a company alone answers.

The enrichment pipeline refuses an unusable lead; CSV jobs check each row with the same rule
(so that one bad row is reported as ``invalid_input`` instead of failing its whole chunk) and
reserve credits at the same price. The gateway, enrichment and providers cap ``max_contacts``
alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from leadmesh.common.v1 import common_pb2 as common
from libs.errors import InvalidArgument

__all__ = [
    "BASE_COST",
    "DEFAULT_CONTACTS",
    "FIELD_GROUPS",
    "INPUT_FIELDS",
    "MAX_CONTACTS",
    "MAX_FIELD_LENGTH",
    "PHONE_COST",
    "lead_cost",
    "validate_lead",
]

BASE_COST = 1
PHONE_COST = 11
MAX_FIELD_LENGTH = 320
# The contacts a company-only lead answers when the caller does not say, and at the most.
DEFAULT_CONTACTS = 5
MAX_CONTACTS = 50
# The inputs of a lead, as the API and a CSV mapping name them.
INPUT_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "company_name",
    "company_domain",
    "linkedin_url",
)
# The field groups a caller may ask for, by their API names; phone is the expensive one.
FIELD_GROUPS = {
    "person": common.FIELD_GROUP_PERSON,
    "company": common.FIELD_GROUP_COMPANY,
    "email": common.FIELD_GROUP_EMAIL,
    "phone": common.FIELD_GROUP_PHONE,
    "linkedin": common.FIELD_GROUP_LINKEDIN,
}


def lead_cost(fields: Iterable[int]) -> int:
    """Credits of one enriched lead: 11 when the phone field group is asked for, else 1."""
    return PHONE_COST if common.FIELD_GROUP_PHONE in set(fields) else BASE_COST


def validate_lead(lead: common.LeadInput, field: str = "lead") -> None:
    """A usable identifier: an email, a name with a company, a company, or a LinkedIn URL."""
    for name in INPUT_FIELDS:
        if len(getattr(lead, name)) > MAX_FIELD_LENGTH:
            raise InvalidArgument(
                f"{field}.{name} is longer than {MAX_FIELD_LENGTH} characters",
                reason="FIELD_TOO_LONG",
                metadata={"field": f"{field}.{name}"},
            )
    if lead.email:
        local, _, domain = lead.email.strip().rpartition("@")
        if not local or "." not in domain or " " in lead.email.strip():
            raise InvalidArgument(
                f"{field}.email is not an email address", reason="INVALID_EMAIL", metadata={"field": "email"}
            )
        return
    has_name = bool(lead.full_name or (lead.first_name and lead.last_name))
    if lead.linkedin_url or lead.company_name or lead.company_domain:
        return
    what = "a company or company_domain with the name" if has_name else "an identifier"
    raise InvalidArgument(
        f"{field} needs {what}: email, name + company, company_domain or linkedin_url",
        reason="NO_IDENTIFIER",
        metadata={"field": field},
    )
