"""Which uploaded column feeds which lead field, and the lead a row describes.

Header names are matched through the kit's synonym table first (``libs.headers``: ``E-mail
Address``, ``Account Name``, ``Person Linkedin Url``...), then by words: a header matches a field
when it holds the field's core word and nothing but known qualifiers (``Attendee Email``,
``Company Website URL``). ``Email Opt Out``, ``Email Status`` or ``Company Linkedin Url`` carry
words that are not qualifiers, so they are never taken. A company column holding a domain
(``libs.normalize.as_company_domain``) feeds the domain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from libs.errors import InvalidArgument
from libs.headers import HEADER_SYNONYMS, header_key
from libs.leads import INPUT_FIELDS, MAX_FIELD_LENGTH
from libs.normalize import as_company_domain, host_name

__all__ = [
    "INPUT_FIELDS",
    "MAX_FIELD_LENGTH",
    "RowLead",
    "RowProblem",
    "apply_mapping_override",
    "detect_mapping",
    "lead_from_cells",
]

_PEOPLE = "contact attendee lead person prospect customer member registrant participant guest delegate"

# Word rules: (core words, qualifiers allowed beside them). Every word of the header must be one
# of the two, and all core words must be there.
_WORD_RULES: dict[str, tuple[tuple[frozenset[str], ...], frozenset[str]]] = {
    "email": (
        (frozenset({"email"}),),
        frozenset(
            f"{_PEOPLE} address work business primary main personal professional corporate "
            "company direct official 1".split()
        ),
    ),
    "first_name": (
        (frozenset({"first"}), frozenset({"given"}), frozenset({"forename"})),
        frozenset(f"{_PEOPLE} name preferred".split()),
    ),
    "last_name": (
        (frozenset({"last"}), frozenset({"surname"}), frozenset({"family"})),
        frozenset(f"{_PEOPLE} name".split()),
    ),
    "full_name": ((frozenset({"name"}),), frozenset(f"{_PEOPLE} full display".split())),
    "company_name": (
        tuple(frozenset({w}) for w in ("company", "organization", "organisation", "account", "employer")),
        frozenset(f"{_PEOPLE} name current legal primary 1".split()),
    ),
    "company_domain": (
        (
            frozenset({"domain"}),
            frozenset({"website"}),
            frozenset({"web", "site"}),
            frozenset({"url"}),
            frozenset({"homepage"}),
        ),
        frozenset(
            "company organization organisation account employer primary main corporate business "
            "url name address".split()
        ),
    ),
    "linkedin_url": (
        (frozenset({"linkedin"}),),
        frozenset(f"{_PEOPLE} url profile link address page public personal".split()),
    ),
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])")
_JOINED = ((re.compile(r"linked\s*in"), "linkedin"), (re.compile(r"(?<![a-z])e\s*mail"), "email"))
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _words(name: str) -> frozenset[str]:
    text = _NOT_ALNUM.sub(" ", _CAMEL.sub(" ", name).lower())
    for pattern, joined in _JOINED:
        text = pattern.sub(joined, text)
    return frozenset(text.split())


def _matches_words(field: str, words: frozenset[str]) -> bool:
    cores, qualifiers = _WORD_RULES[field]
    return any(core <= words and words - core <= qualifiers for core in cores)


def detect_mapping(header: Sequence[str]) -> dict[str, int]:
    """Input field -> column index, from header names; the first matching column wins."""
    mapping: dict[str, int] = {}
    used: set[int] = set()
    keys = [header_key(name) for name in header]
    words = [_words(name) for name in header]
    for exact in (True, False):
        for field in INPUT_FIELDS:
            if field in mapping:
                continue
            for index, key in enumerate(keys):
                if index in used or not key:
                    continue
                if key in HEADER_SYNONYMS[field] if exact else _matches_words(field, words[index]):
                    mapping[field] = index
                    used.add(index)
                    break
    return {field: mapping[field] for field in INPUT_FIELDS if field in mapping}


def apply_mapping_override(
    header: Sequence[str], detected: Mapping[str, int], override: Mapping[str, str | None]
) -> dict[str, int]:
    """The detected mapping corrected by the user: field -> header name, or None to unmap it.

    A column the user names is taken away from the field detection gave it to; two overridden
    fields naming one column is an error.
    """
    wanted: dict[str, int | None] = {}
    for field, column in override.items():
        if field not in INPUT_FIELDS:
            raise InvalidArgument(
                f"unknown input field {field!r} in the column mapping; the known fields are "
                f"{', '.join(INPUT_FIELDS)}",
                metadata={"field": "mapping"},
            )
        wanted[field] = None if column is None or not column.strip() else _column_index(header, column)
    owners: dict[int, str] = {}
    for field, index in wanted.items():
        if index is None:
            continue
        if index in owners:
            raise InvalidArgument(
                f"column {header[index]!r} is mapped to both {owners[index]!r} and {field!r}; "
                "a column feeds one field",
                metadata={"field": "mapping"},
            )
        owners[index] = field
    mapping = {
        field: index for field, index in detected.items() if field not in wanted and index not in owners
    }
    mapping.update({field: index for field, index in wanted.items() if index is not None})
    return {field: mapping[field] for field in INPUT_FIELDS if field in mapping}


def _column_index(header: Sequence[str], column: str) -> int:
    wanted = column.strip().casefold()
    for index, name in enumerate(header):
        if name.strip().casefold() == wanted:
            return index
    raise InvalidArgument(
        f"column {column!r} is not in the header; the columns are {', '.join(repr(h) for h in header)}",
        metadata={"field": "mapping"},
    )


@dataclass(frozen=True)
class RowLead:
    """What a row says about a lead, cleaned; an empty string is an unknown."""

    email: str
    first_name: str
    last_name: str
    full_name: str
    company_name: str
    company_domain: str
    linkedin_url: str


@dataclass(frozen=True)
class RowProblem:
    """Why a row cannot be enriched, for the user."""

    reason: str


_NO_IDENTIFIER = (
    "no usable identifier: needs an email, a name with a company, a company or domain, or a LinkedIn URL"
)


def lead_from_cells(cells: Sequence[str], mapping: Mapping[str, int]) -> RowLead | RowProblem:
    """The lead a row describes through `mapping`, or why it cannot be enriched."""
    if not any(cell.strip() for cell in cells):
        return RowProblem("empty row")
    values = {field: _cell(cells, mapping.get(field)) for field in INPUT_FIELDS}
    for field, value in values.items():
        if len(value) > MAX_FIELD_LENGTH:
            return RowProblem(f"column {field!r} is longer than {MAX_FIELD_LENGTH} characters")
    if not values["company_domain"] and as_company_domain(values["company_name"]):
        values["company_domain"], values["company_name"] = values["company_name"], ""
    if "linkedin.com/" in values["company_domain"].lower():  # a LinkedIn export's "URL" column
        values["linkedin_url"] = values["linkedin_url"] or values["company_domain"]
        values["company_domain"] = ""
    values["company_domain"] = host_name(values["company_domain"]) or values["company_domain"]
    if "linkedin.com/" not in values["linkedin_url"].lower():
        values["linkedin_url"] = ""
    bad_email = values["email"] if values["email"] and "@" not in values["email"] else ""
    if bad_email:
        values["email"] = ""
    lead = RowLead(**values)
    if _usable(lead):
        return lead
    if bad_email:
        return RowProblem(f"{bad_email!r} is not an email address")
    return RowProblem(_NO_IDENTIFIER)


def _cell(cells: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _usable(lead: RowLead) -> bool:
    """An email, a company (alone or with a name), or a LinkedIn URL; a name alone is not enough."""
    return bool(lead.email or lead.company_name or lead.company_domain or lead.linkedin_url)
