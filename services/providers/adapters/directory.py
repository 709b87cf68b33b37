"""The directory provider: the customer's own people and companies, first and free in every
waterfall. A batch of leads costs one ``$in`` query per kind of key, never one per lead."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from libs.mongo import Document, as_datetime
from services.providers.domain.models import (
    COMPANY_FIELDS,
    PERSON_FIELDS,
    FieldGroup,
    Fields,
    Lead,
    ProviderMatch,
    Wanted,
)
from services.providers.domain.ports import Answer
from services.providers.repository import DirectoryReads

__all__ = ["DirectoryProvider", "MatchConfidence"]


@dataclass(frozen=True)
class MatchConfidence:
    """How sure a directory match is, by the key it was found with."""

    email: float = 0.99
    linkedin: float = 0.99
    name_domain: float = 0.92
    name_company: float = 0.88
    company_domain: float = 0.99
    company_name: float = 0.9
    # Two or more different people share the key: nobody can say which one is meant.
    ambiguous: float = 0.5


def _person(doc: Document) -> Fields:
    return {name: doc[name] for name in PERSON_FIELDS if name in doc}


def _company(doc: Document | None, person: Document | None = None) -> Fields:
    if doc is not None:
        return {name: doc[name] for name in COMPANY_FIELDS if name in doc}
    if person is not None and person.get("company_name"):
        found: Fields = {"name": person["company_name"]}
        if person.get("company_domain"):
            found["domain"] = person["company_domain"]
        return found
    return {}


def _embedded_enough(company: Document, wanted: int) -> bool:
    """Whether the contacts a company record carries whole are all a lead asked for."""
    embedded = len(company.get("contacts") or ())
    return embedded >= min(wanted, len(company.get("top_contacts") or ()))


def _index(docs: list[Document], key: str) -> dict[str, list[Document]]:
    by_key: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        value = doc.get(key)
        if value:
            by_key[value].append(doc)
    return by_key


class DirectoryProvider:
    name = "directory"
    cost = 0.0
    provides = frozenset(FieldGroup)
    provides_contacts = True
    cache_ttl = 0.0

    def __init__(
        self,
        repository: DirectoryReads,
        timeout: float = 10.0,
        confidence: MatchConfidence | None = None,
    ):
        self.repository = repository
        self.timeout = timeout
        self.confidence = confidence or MatchConfidence()

    def accepts(self, lead: Lead) -> bool:
        return lead.identifiable

    def cache_key(self, lead: Lead) -> str:
        return "|".join((lead.email, lead.linkedin_url, lead.name_key, lead.company_domain, lead.company_key))

    async def lookup(self, leads: Sequence[Lead], wanted: Wanted) -> list[Answer]:
        repo = self.repository
        people = [lead for lead in leads if lead.has_person]
        keys = {
            "email": {p.email for p in people if p.email},
            "linkedin_url": {p.linkedin_url for p in people if p.linkedin_url},
            "name_domain": {
                f"{p.name_key}|{p.company_domain}" for p in people if p.name_key and p.company_domain
            },
            "name_company": {f"{p.name_key}|{p.company_key}" for p in people if p.name_key and p.company_key},
        }
        # Company leads need the contacts their company record carries (asked for alongside the
        # people: it does not depend on them); person leads do not.
        company_domains = {lead.company_domain for lead in leads if lead.company_only and lead.company_domain}
        found, with_contacts = await asyncio.gather(
            asyncio.gather(*(repo.people_by(key, values) for key, values in keys.items())),
            repo.companies_by("domain", company_domains),
        )
        by_key = {key: _index(docs, key) for key, docs in zip(keys, found, strict=True)}
        found_people = [self._pick(lead, by_key) for lead in leads]

        other_domains = {lead.company_domain for lead in leads if lead.company_domain}
        other_domains |= {
            doc["company_domain"] for doc, _ in found_people if doc and doc.get("company_domain")
        }
        # A company is found by name only for a lead without a domain whose person gives none
        # (or one the directory has no company for: asked below, once the domains are known).
        by_name_leads = [
            (lead, person)
            for lead, (person, _) in zip(leads, found_people, strict=True)
            if lead.company_key and not lead.company_domain
        ]
        name_keys = {
            lead.company_key for lead, person in by_name_leads if not (person or {}).get("company_domain")
        }
        without_contacts, named = await asyncio.gather(
            repo.companies_by("domain", other_domains - company_domains, contacts=False),
            repo.companies_by("name_key", name_keys),
        )
        by_domain = {doc["domain"]: doc for doc in [*without_contacts, *with_contacts] if doc.get("domain")}
        unknown_domain = {
            lead.company_key
            for lead, person in by_name_leads
            if person is not None
            and person.get("company_domain")
            and person["company_domain"] not in by_domain
        }
        if unknown_domain - name_keys:
            named += await repo.companies_by("name_key", unknown_domain - name_keys)
        by_name = _index(named, "name_key")

        companies = [
            self._company_for(lead, person, by_domain, by_name)
            for lead, (person, _) in zip(leads, found_people, strict=True)
        ]
        missing: set[str] = set()
        for lead, (company, _) in zip(leads, companies, strict=True):
            if (
                lead.company_only
                and company is not None
                and not _embedded_enough(company, wanted.max_contacts)
            ):
                missing.update((company.get("top_contacts") or [])[: wanted.max_contacts])
        extra = {doc["_id"]: doc for doc in await repo.people_by("_id", missing)} if missing else {}

        answers: list[Answer] = []
        made: dict[str, tuple[Fields, ...]] = {}
        for lead, (person, person_confidence), (company, company_confidence) in zip(
            leads, found_people, companies, strict=True
        ):
            answers.append(
                self._answer(
                    lead, person, person_confidence, company, company_confidence, wanted, extra, made
                )
            )
        return answers

    def _pick(
        self, lead: Lead, by_key: dict[str, dict[str, list[Document]]]
    ) -> tuple[Document | None, float]:
        """The person a lead names and how sure the key is: the strongest key that finds one."""
        c = self.confidence
        candidates = (
            ("email", lead.email, c.email),
            ("linkedin_url", lead.linkedin_url, c.linkedin),
            (
                "name_domain",
                f"{lead.name_key}|{lead.company_domain}" if lead.company_domain else "",
                c.name_domain,
            ),
            (
                "name_company",
                f"{lead.name_key}|{lead.company_key}" if lead.company_key else "",
                c.name_company,
            ),
        )
        for key, value, confidence in candidates:
            if not value or (key.startswith("name") and not lead.name_key):
                continue
            docs = by_key[key].get(value, [])
            if len(docs) == 1:
                return docs[0], confidence
            if len(docs) > 1:
                return docs[0], c.ambiguous
        return None, 0.0

    def _company_for(
        self,
        lead: Lead,
        person: Document | None,
        by_domain: dict[str, Document],
        by_name: dict[str, list[Document]],
    ) -> tuple[Document | None, float]:
        domain = (person or {}).get("company_domain") or lead.company_domain
        if domain and domain in by_domain:
            return by_domain[domain], self.confidence.company_domain
        if lead.company_key and not lead.company_domain:
            named = by_name.get(lead.company_key, [])
            if len(named) == 1:
                return named[0], self.confidence.company_name
            if len(named) > 1:
                return named[0], self.confidence.ambiguous
        return None, 0.0

    @staticmethod
    def _contacts_of(
        company: Document, wanted: Wanted, extra: dict[str, Document], made: dict[str, tuple[Fields, ...]]
    ) -> tuple[Fields, ...]:
        """The company's best contacts, made once per batch (leads of one company share them)."""
        found = made.get(company["_id"])
        if found is None:
            if _embedded_enough(company, wanted.max_contacts):
                found = tuple(company.get("contacts") or ())[: wanted.max_contacts]
            else:
                ids = (company.get("top_contacts") or [])[: wanted.max_contacts]
                found = tuple(_person(extra[i]) for i in ids if i in extra)
            made[company["_id"]] = found
        return found

    def _answer(
        self,
        lead: Lead,
        person: Document | None,
        person_confidence: float,
        company: Document | None,
        company_confidence: float,
        wanted: Wanted,
        extra: dict[str, Document],
        made: dict[str, tuple[Fields, ...]],
    ) -> Answer:
        if lead.company_only:
            if company is None:
                return None
            people = self._contacts_of(company, wanted, extra, made)
            return ProviderMatch(
                company_confidence,
                company=_company(company),
                contacts=people,
                observed_at=as_datetime(company.get("updated_at")),
            )
        if person is not None:
            return ProviderMatch(
                person_confidence,
                person=_person(person),
                company=_company(company, person),
                observed_at=as_datetime(person.get("updated_at")),
            )
        if company is not None:
            return ProviderMatch(
                company_confidence,
                company=_company(company),
                observed_at=as_datetime(company.get("updated_at")),
            )
        return None
