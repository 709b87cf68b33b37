"""Loading a customer's own people and companies into the directory.

Rows come from any source (CSV, JSON Lines, the demo generator) as ``{column: value}``; columns
are mapped to our fields by name through ``libs.headers`` (``"Work Email"`` -> email,
``"Company Website"`` -> domain), every value is normalised, and a row that identifies nobody is
rejected with its line and reason. Writes are bulk, a few thousand records at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from libs.headers import field_of_header
from libs.mongo import Document
from libs.normalize import (
    company_domain_from_email,
    company_key,
    normalize_domain,
    normalize_email,
    normalize_linkedin_url,
    person_name_key,
)
from libs.privacy import SUPPRESSED
from services.providers.domain.fields import normalize_company, normalize_person
from services.providers.repository import CHUNK, DirectoryRepository, company_document, person_document

__all__ = ["DirectoryImport", "ImportReport", "Rejected", "map_columns", "records_from_row"]


def map_columns(columns: Iterable[str]) -> dict[str, str]:
    """Source column -> our field, for the columns we recognise (the first one wins a field)."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        name = field_of_header(column)
        if name is not None and name not in taken:
            mapping[column] = name
            taken.add(name)
    return mapping


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


def records_from_row(
    row: Mapping[str, Any], mapping: Mapping[str, str], source: str
) -> tuple[Document | None, Document | None]:
    """The person and company documents a row describes; ValueError(reason) when it is unusable."""
    values = {mapping[c]: v for c, v in row.items() if c in mapping and v not in (None, "")}
    text = {k: str(v).strip() for k, v in values.items() if not isinstance(v, list)}
    if text.get("email") and normalize_email(text["email"]) is None:
        raise ValueError(f"invalid email {text['email']!r}")
    if text.get("company_domain") and normalize_domain(text["company_domain"]) is None:
        raise ValueError(f"invalid company domain {text['company_domain']!r}")
    if text.get("linkedin_url") and normalize_linkedin_url(text["linkedin_url"]) is None:
        raise ValueError(f"not a LinkedIn profile URL {text['linkedin_url']!r}")
    person = normalize_person(
        {
            k: values.get(k)
            for k in (
                "email",
                "first_name",
                "last_name",
                "full_name",
                "title",
                "phone",
                "linkedin_url",
                "country",
                "city",
            )
        }
    )
    company_raw = {
        "name": values.get("company_name"),
        "domain": values.get("company_domain"),
        "industry": values.get("industry"),
        "employee_count": values.get("employee_count"),
        "revenue": values.get("revenue"),
        "country": values.get("company_country"),
        "technologies": values.get("technologies"),
        "linkedin_url": values.get("company_linkedin_url"),
        "phone": values.get("company_phone"),
    }
    if isinstance(company_raw["employee_count"], str) and company_raw["employee_count"].strip().isdigit():
        company_raw["employee_count"] = int(company_raw["employee_count"].strip())
    company = normalize_company(company_raw)
    if "domain" not in company and person.get("email"):
        domain = company_domain_from_email(person["email"])
        if domain:
            company["domain"] = domain
    name_key = person_name_key(person.get("first_name", ""), person.get("last_name", ""))
    key = company_key(company.get("name", ""))
    has_person = bool(
        person.get("email") or person.get("linkedin_url") or (name_key and (company.get("domain") or key))
    )
    has_company = bool(company.get("domain") or key)
    if not has_person and not has_company:
        raise ValueError("no identifier: needs an email, a LinkedIn URL, a name with a company, or a company")
    if not has_person and (person.get("first_name") or person.get("title")):
        raise ValueError("a person needs an email, a LinkedIn URL or a full name with a company")
    person_doc = person_document(person, company, source, name_key, key) if has_person else None
    company_doc = (
        company_document(company, source, key) if has_company and (company.get("domain") or key) else None
    )
    return person_doc, company_doc


@dataclass
class ImportReport:
    rows: int = 0
    people: int = 0
    companies: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def _merge_company(existing: Document | None, new: Document) -> Document:
    if existing is None:
        return new
    merged = dict(existing)
    merged.update({k: v for k, v in new.items() if v not in (None, "", [])})
    return merged


class DirectoryImport:
    """Streams rows into the directory in bulk. ``add`` rows, then ``finish``."""

    def __init__(
        self,
        repository: DirectoryRepository,
        source: str,
        mapping: Mapping[str, str] | None = None,
        suppressed: Callable[[Document], bool] | None = None,
    ):
        """``suppressed`` tells a person who must not be imported (erased from leadmesh)."""
        self.repository = repository
        self.suppressed = suppressed
        self.source = source
        self.mapping = mapping
        self.report = ImportReport()
        self._people: dict[str, Document] = {}
        self._companies: dict[str, Document] = {}
        self._domains: set[str] = set()

    async def add(self, line: int, row: Mapping[str, Any]) -> None:
        """One row; ``line`` is where it is in the source, for the rejection report."""
        self.report.rows += 1
        mapping = self.mapping if self.mapping is not None else map_columns(row)
        try:
            person, company = records_from_row(row, mapping, self.source)
        except ValueError as error:
            self.report.rejected.append(Rejected(line, str(error)))
            return
        if person is not None and self.suppressed is not None and self.suppressed(person):
            self.report.rejected.append(Rejected(line, SUPPRESSED))
            return
        if person is not None:
            self._people[person["_id"]] = person
            if person.get("company_domain"):
                self._domains.add(person["company_domain"])
        if company is not None:
            self._companies[company["_id"]] = _merge_company(self._companies.get(company["_id"]), company)
        if len(self._people) >= CHUNK or len(self._companies) >= CHUNK:
            await self._flush()

    async def add_all(
        self, rows: AsyncIterable[tuple[int, Mapping[str, Any]]] | Iterable[tuple[int, Mapping[str, Any]]]
    ) -> None:
        if isinstance(rows, AsyncIterable):
            async for line, row in rows:
                await self.add(line, row)
        else:
            for line, row in rows:
                await self.add(line, row)

    async def _flush(self) -> None:
        people, self._people = list(self._people.values()), {}
        companies, self._companies = list(self._companies.values()), {}
        if companies:
            await self.repository.upsert_companies(companies)
        if people:
            await self.repository.upsert_people(people)
        self.report.people += len(people)
        self.report.companies += len(companies)

    async def finish(self) -> ImportReport:
        """Writes what is left and refreshes the best-fit contacts of the companies touched."""
        await self._flush()
        await self.repository.refresh_top_contacts(self._domains)
        return self.report
