"""A deterministic demo directory: companies across industries and sizes, and their people with
realistic (and realistically messy) titles and addresses, made with Faker from a seed.

Every domain in it is under the ``.example`` top-level domain (RFC 2606: reserved, it exists
nowhere on the Internet): the companies' (``northwind.example``), hence their people's addresses,
and the disposable-mail service a few people gave (``tempinbox.example``). No record carries a URL
(LinkedIn profiles live on a real site). Faker gives the names only. In demo mode
(``leadmesh up --demo``) :mod:`services.demo_world` runs DNS, mail and web servers for these
domains on loopback.

The same seed and counts always give the same records, so ``leadmesh data seed-demo`` can be
run again safely and a benchmark can rely on what is there.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from faker import Faker

from libs.mongo import Document
from libs.normalize import INDUSTRIES, company_key, person_name_key
from services.providers.domain.fields import normalize_company, normalize_person
from services.providers.repository import company_document, person_document, with_top_contacts

__all__ = [
    "DEMO_SOURCE",
    "DEMO_TLD",
    "DISPOSABLE_DOMAIN",
    "ROLE_MAILBOXES",
    "DemoDirectory",
    "demo_directory",
]

DEMO_SOURCE = "seed-demo"
DEMO_TLD = "example"
# A disposable-mail service some people signed up with instead of their work address.
DISPOSABLE_DOMAIN = f"tempinbox.{DEMO_TLD}"
# Team addresses some people are listed with instead of their own.
ROLE_MAILBOXES = ("sales", "info", "contact", "hello")
# Shares of people listed with a team address, and with a disposable one.
_ROLE_SHARE = 0.02
_DISPOSABLE_SHARE = 0.015

# (locale, country, phone pattern)
_REGIONS = (
    ("en_US", "US", "+1 {area} 555 01{line:02d}"),
    ("en_GB", "GB", "+44 20 7946 0{line:03d}"),
    ("de_DE", "DE", "+49 30 {line:06d}"),
    ("fr_FR", "FR", "+33 1 {line:08d}"),
    ("es_ES", "ES", "+34 91 {line:07d}"),
)
Region = tuple[str, str, str]
_REGION_WEIGHTS = (60, 15, 10, 8, 7)
_US_AREAS = (212, 213, 305, 312, 415, 512, 617, 646, 650, 702, 720, 801, 858, 919, 978)
# (label, smallest, largest head count, weight)
_SIZES = (
    ("1-10", 2, 10, 14),
    ("11-50", 11, 50, 24),
    ("51-200", 51, 200, 24),
    ("201-500", 201, 500, 14),
    ("501-1000", 501, 1000, 9),
    ("1001-5000", 1001, 5000, 8),
    ("5001-10000", 5001, 10000, 4),
    ("10001+", 10001, 120000, 3),
)
_TECHNOLOGIES = (
    "Salesforce",
    "HubSpot",
    "Marketo",
    "Outreach",
    "Gong",
    "Zendesk",
    "Intercom",
    "Segment",
    "Snowflake",
    "AWS",
    "Google Cloud",
    "Azure",
    "Kubernetes",
    "Stripe",
    "Shopify",
    "Slack",
    "Jira",
    "Workday",
    "Okta",
)
# Raw titles as people write them, by department and seniority.
_TITLES: dict[str, dict[str, tuple[str, ...]]] = {
    "sales": {
        "entry": ("Account Executive", "Sales Development Representative", "SDR", "BDR", "Inside Sales Rep"),
        "senior": ("Senior Account Executive", "Sr. Account Exec", "Enterprise AE", "Senior Sales Engineer"),
        "manager": ("Sales Manager", "Regional Sales Manager", "Account Manager", "Sales Team Lead"),
        "director": (
            "Director of Sales",
            "Sales Director, EMEA",
            "Sr. Director, Sales",
            "Head of Partnerships",
        ),
        "vp": ("VP Sales", "Vice President of Sales", "SVP, Global Sales"),
        "c_level": ("Chief Revenue Officer", "CRO"),
    },
    "marketing": {
        "entry": ("Marketing Coordinator", "Content Writer", "SEO Specialist", "Marketing Associate"),
        "senior": ("Senior Marketing Specialist", "Senior Content Strategist", "Sr. Growth Marketer"),
        "manager": (
            "Marketing Manager",
            "Product Marketing Manager",
            "Demand Generation Manager",
            "Mktg Mgr",
        ),
        "director": ("Director of Marketing", "Marketing Director", "Director, Demand Gen", "Head of Growth"),
        "vp": ("VP Marketing", "VP, Demand Generation", "Vice President, Marketing"),
        "c_level": ("Chief Marketing Officer", "CMO"),
    },
    "revenue_operations": {
        "entry": ("Sales Operations Analyst", "RevOps Specialist", "Salesforce Administrator"),
        "senior": ("Senior Revenue Operations Analyst", "Sr. Sales Ops Analyst"),
        "manager": ("RevOps Manager", "Sales Operations Manager", "Marketing Operations Manager"),
        "director": ("Director of Revenue Operations", "Sr. Dir. RevOps", "Director, Sales Operations"),
        "vp": ("VP Revenue Operations", "VP RevOps"),
    },
    "engineering": {
        "entry": (
            "Software Engineer",
            "Software Developer",
            "QA Engineer",
            "Data Engineer",
            "Frontend Engineer",
        ),
        "senior": (
            "Senior Software Engineer",
            "Sr. Software Eng",
            "Staff Engineer",
            "Principal Engineer",
            "Tech Lead",
        ),
        "manager": ("Engineering Manager", "Software Engineering Manager", "Eng Manager, Platform"),
        "director": ("Director of Engineering", "Engineering Director", "Head of Engineering"),
        "vp": ("VP Engineering", "VP of Engineering", "SVP Engineering"),
        "c_level": ("CTO", "Chief Technology Officer"),
    },
    "product": {
        "entry": ("Product Analyst", "Product Designer", "UX Designer", "Associate Product Manager"),
        "senior": ("Senior Product Designer", "Senior UX Researcher"),
        "manager": ("Product Manager", "Senior Product Manager", "Group Product Manager"),
        "director": ("Director of Product", "Director, Product Management", "Head of Product"),
        "vp": ("VP Product", "VP of Product Management"),
        "c_level": ("Chief Product Officer",),
    },
    "finance": {
        "entry": ("Financial Analyst", "Accountant", "Accounts Payable Specialist", "Billing Specialist"),
        "senior": ("Senior Financial Analyst", "Senior Accountant"),
        "manager": ("Finance Manager", "Accounting Manager", "FP&A Manager", "Controller"),
        "director": ("Director of Finance", "Finance Director", "Head of Finance"),
        "vp": ("VP Finance", "VP, Finance & Operations"),
        "c_level": ("CFO", "Chief Financial Officer"),
    },
    "hr": {
        "entry": ("Recruiter", "Technical Recruiter", "HR Coordinator", "Talent Acquisition Specialist"),
        "senior": ("Senior Recruiter", "HR Business Partner"),
        "manager": ("HR Manager", "Talent Acquisition Manager", "People Operations Manager"),
        "director": ("Director of People", "HR Director", "Head of Talent Acquisition"),
        "vp": ("VP People", "VP Human Resources"),
        "c_level": ("Chief People Officer",),
    },
    "operations": {
        "entry": (
            "Operations Analyst",
            "Operations Coordinator",
            "Executive Assistant",
            "Office Coordinator",
        ),
        "senior": ("Senior Operations Analyst",),
        "manager": ("Operations Manager", "Office Manager", "Supply Chain Manager"),
        "director": ("Director of Operations", "Head of Operations"),
        "vp": ("VP Operations",),
        "c_level": ("COO", "Chief Operating Officer"),
    },
    "it": {
        "entry": ("IT Support Specialist", "Systems Administrator", "Help Desk Technician"),
        "senior": ("Senior Systems Administrator", "Senior Network Engineer"),
        "manager": ("IT Manager", "IT Operations Manager"),
        "director": ("IT Director", "Director of Information Security"),
        "vp": ("VP IT",),
        "c_level": ("CIO", "CISO"),
    },
    "legal": {
        "entry": ("Paralegal", "Legal Assistant", "Compliance Analyst"),
        "senior": ("Senior Counsel", "Senior Paralegal"),
        "manager": ("Legal Manager", "Compliance Manager"),
        "director": ("Director of Legal", "Deputy General Counsel"),
        "vp": ("General Counsel", "VP Legal"),
    },
    "customer_success": {
        "entry": ("Customer Success Associate", "Customer Support Specialist", "Implementation Specialist"),
        "senior": ("Senior Customer Success Manager", "Senior Support Engineer"),
        "manager": ("Customer Success Manager", "CSM", "Customer Support Manager"),
        "director": ("Director of Customer Success", "Head of Support"),
        "vp": ("VP Customer Success", "VP, Customer Experience"),
        "c_level": ("Chief Customer Officer",),
    },
}
_DEPARTMENT_WEIGHTS = {
    "sales": 22, "marketing": 12, "revenue_operations": 4, "engineering": 24, "product": 7, "finance": 6,
    "hr": 5, "operations": 7, "it": 5, "legal": 2, "customer_success": 8,
}  # fmt: skip
_SENIORITY_WEIGHTS = {"entry": 45, "senior": 20, "manager": 18, "director": 9, "vp": 5, "c_level": 2}
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class DemoDirectory:
    companies: list[Document]
    people: list[Document]


def _slug(text: str) -> str:
    return _SLUG.sub("", text.lower())


class _Generator:
    def __init__(self, seed: int):
        self.random = random.Random(seed)
        self.fakers = {locale: Faker(locale) for locale, *_ in _REGIONS}
        for index, faker in enumerate(self.fakers.values()):
            faker.seed_instance(seed * 31 + index)
        self.domains: set[str] = set()
        self.emails: set[str] = set()

    def company(self) -> tuple[dict[str, object], Region]:
        region = self.random.choices(_REGIONS, weights=_REGION_WEIGHTS)[0]
        faker = self.fakers[region[0]]
        while True:
            name = faker.company()
            label = _slug(name.split(",")[0].split(" ")[0] + "".join(name.split(" ")[1:2]))[:24]
            domain = f"{label}.{DEMO_TLD}"
            if domain not in self.domains and len(label) > 4:
                self.domains.add(domain)
                break
        label, low, high, _ = self.random.choices(_SIZES, weights=[s[3] for s in _SIZES])[0]
        employees = self.random.randint(low, high)
        revenue = employees * self.random.uniform(60_000, 350_000)
        raw = {
            "name": name,
            "domain": domain,
            "industry": self.random.choice(INDUSTRIES),
            "employee_count": employees,
            "revenue": round(revenue),
            "country": region[1],
            "technologies": self.random.sample(_TECHNOLOGIES, self.random.randint(2, 7)),
        }
        return raw, region

    def email(self, first: str, last: str, domain: str) -> str:
        """Mostly a personal address at the company; now and then a team address of the company or
        a personal one at a disposable-mail service, as directories have them."""
        draw = self.random.random()
        if draw < _ROLE_SHARE:
            role = f"{self.random.choice(ROLE_MAILBOXES)}@{domain}"
            if role not in self.emails:
                self.emails.add(role)
                return role
        if draw > 1 - _DISPOSABLE_SHARE:
            domain = DISPOSABLE_DOMAIN
        patterns = (f"{first}.{last}", f"{first[0]}{last}", first)
        email = f"{self.random.choice(patterns)}@{domain}"
        suffix = 2
        while email in self.emails:
            email = f"{first}.{last}{suffix}@{domain}"
            suffix += 1
        self.emails.add(email)
        return email

    def person(self, region: Region, domain: str, title: str) -> dict[str, object]:
        faker = self.fakers[region[0]]
        first, last = faker.first_name(), faker.last_name()
        raw: dict[str, object] = {
            "first_name": first,
            "last_name": last,
            "email": self.email(_slug(first) or "x", _slug(last) or "y", domain),
            "title": title,
            "country": region[1],
            "city": faker.city(),
        }
        if self.random.random() < 0.4:
            raw["phone"] = region[2].format(
                area=self.random.choice(_US_AREAS), line=self.random.randrange(100)
            )
        return raw

    def title(self, position: int, employees: int) -> str:
        if position == 0:
            return "Founder & CEO" if employees <= 50 else "CEO"
        if position == 1 and employees <= 200:
            return self.random.choice(("Co-Founder & CTO", "Co-Founder", "COO"))
        department = self.random.choices(
            list(_DEPARTMENT_WEIGHTS), weights=list(_DEPARTMENT_WEIGHTS.values())
        )[0]
        titles = _TITLES[department]
        levels = [level for level in _SENIORITY_WEIGHTS if level in titles]
        level = self.random.choices(levels, weights=[_SENIORITY_WEIGHTS[lv] for lv in levels])[0]
        return self.random.choice(titles[level])


def _people_per_company(companies: list[int], people: int, rng: random.Random) -> Iterator[int]:
    """Splits ``people`` across companies, more to bigger ones, at least one each."""
    weights = [max(1.0, size**0.5) for size in companies]
    total = sum(weights)
    counts = [max(1, int(people * w / total)) for w in weights]
    while sum(counts) < people:
        counts[rng.randrange(len(counts))] += 1
    while sum(counts) > people:
        index = rng.randrange(len(counts))
        if counts[index] > 1:
            counts[index] -= 1
    return iter(counts)


def demo_directory(seed: int = 4242, companies: int = 3000, people: int = 30000) -> DemoDirectory:
    """The demo records, ready to insert: normalised, keyed, each company with its top contacts."""
    generator = _Generator(seed)
    raw_companies = [generator.company() for _ in range(companies)]
    counts = _people_per_company(
        [int(str(c["employee_count"])) for c, _ in raw_companies], people, generator.random
    )
    company_docs: list[Document] = []
    person_docs: list[Document] = []
    for (raw, region), count in zip(raw_companies, counts, strict=True):
        company = normalize_company(raw)
        key = company_key(str(company["name"]))
        members: list[Document] = []
        for position in range(count):
            title = generator.title(position, int(str(raw["employee_count"])))
            person = normalize_person(generator.person(region, str(company["domain"]), title))
            name_key = person_name_key(person.get("first_name", ""), person.get("last_name", ""))
            members.append(person_document(person, company, DEMO_SOURCE, name_key, key))
        doc = company_document(company, DEMO_SOURCE, key)
        company_docs.append(with_top_contacts(doc, members))
        person_docs += members
    return DemoDirectory(company_docs, person_docs)
