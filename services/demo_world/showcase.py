"""What ``leadmesh up --demo`` asks the API about the demo world: a lead by email, one by name
and company, one company alone, and a small CSV file of mixed quality.

The single leads are the kind a sales team wants: sales, marketing or revenue-operations leaders
at mid-sized companies that are hiring and show their tools, with mailboxes that exist. The CSV
mixes such people with every other case: each email verdict kind (:attr:`DemoWorld.examples`),
a company whose domain lapsed, people given by name and company, people and addresses the
directory does not know, and a row with nothing to look up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from libs.mongo import Document
from services.demo_world.sites import VISIBLE_TECHNOLOGIES
from services.demo_world.world import DemoWorld
from services.providers.demo import DEMO_TLD, ROLE_MAILBOXES

__all__ = ["CSV_COLUMNS", "Showcase", "showcase"]

CSV_COLUMNS = ("email", "first_name", "last_name", "company")
_LEADERS = ("c_level", "vp", "director")
_TEAMS = ("revenue_operations", "sales", "marketing")
_MID_SIZED = ("51-200", "201-500", "501-1000", "1001-5000")


@dataclass(frozen=True)
class Showcase:
    by_email: dict[str, Any]
    by_name: dict[str, Any]
    company_only: dict[str, Any]
    csv_rows: list[dict[str, str]]


class _Cast:
    def __init__(self, world: DemoWorld):
        self.world = world
        self.companies = {str(c["domain"]): c for c in world.directory.companies}
        self.people = sorted(
            (p for p in world.directory.people if p.get("email")), key=lambda p: str(p["email"])
        )

    def mailbox_ok(self, person: Document) -> bool:
        email = str(person["email"]).lower()
        local, _, domain = email.partition("@")
        plan = self.world.plan
        return (
            email in plan.mailboxes - plan.full
            and domain == person.get("company_domain")
            and domain not in plan.catch_all | plan.greylisting
            and local not in ROLE_MAILBOXES
        )

    def showing_off(self, domain: str) -> bool:
        """The company is hiring, shows its tools, and is of the size a sales team targets."""
        company = self.companies[domain]
        technologies = set(company.get("technologies") or ())
        return (
            domain in self.world.hiring
            and bool(technologies & VISIBLE_TECHNOLOGIES)
            and (company.get("size") in _MID_SIZED)
        )

    def leaders(self) -> list[Document]:
        found = [
            p
            for p in self.people
            if p.get("seniority") in _LEADERS
            and p.get("department") in _TEAMS
            and self.mailbox_ok(p)
            and self.showing_off(str(p["company_domain"]))
        ]
        return sorted(found, key=lambda p: (_LEADERS.index(str(p["seniority"])), str(p["email"])))

    def others(self, taken: set[str]) -> list[Document]:
        return [p for p in self.people if self.mailbox_ok(p) and str(p["email"]) not in taken]


def _by_name(person: Document) -> dict[str, str]:
    return {
        "first_name": str(person["first_name"]),
        "last_name": str(person["last_name"]),
        "company": str(person["company_name"]),
    }


def _employer(cast: _Cast, email: str) -> str:
    return next(str(p["company_domain"]) for p in cast.people if str(p["email"]) == email)


def _email_row(email: str) -> dict[str, str]:
    return {"email": email}


def showcase(world: DemoWorld, seed: int = 7) -> Showcase:
    cast = _Cast(world)
    leaders = cast.leaders()
    if len(leaders) < 8:
        raise LookupError("the demo directory is too small for the showcase")
    first = leaders[0]
    second = next(p for p in leaders if p["company_domain"] != first["company_domain"])
    used = {str(first["company_domain"]), str(second["company_domain"])}
    company = next(str(p["company_domain"]) for p in leaders if str(p["company_domain"]) not in used)
    taken = {str(p["email"]) for p in (first, second)}
    rng = random.Random(seed)
    picked_leaders = [p for p in leaders if str(p["email"]) not in taken][:6]
    others = rng.sample(cast.others(taken | {str(p["email"]) for p in picked_leaders}), 4)
    examples = world.examples
    lapsed = next(p for p in cast.people if p.get("company_domain") in world.plan.lapsed)
    known_company = str(cast.companies[company]["name"])
    rows = [
        *(_email_row(str(p["email"])) for p in picked_leaders[:4]),
        *(_email_row(str(p["email"])) for p in others[:2]),
        *(_email_row(examples[kind]) for kind in ("invalid", "risky", "catch-all")),
        # A throwaway address tells no employer: the row gives the company's website too.
        {"email": examples["disposable"], "company": _employer(cast, examples["disposable"])},
        *(_email_row(examples[kind]) for kind in ("role-based", "unknown")),
        _email_row(str(lapsed["email"])),
        *(_by_name(p) for p in (*picked_leaders[4:6], *others[2:4])),
        {"first_name": "Robin", "last_name": "Nobody", "company": known_company},
        _email_row(f"pat.quinn@never-heard-of.{DEMO_TLD}"),
        {"first_name": "Sam", "last_name": "Unplaced"},
    ]
    rng.shuffle(rows)
    return Showcase(
        by_email={"email": str(first["email"])},
        by_name=_by_name(second),
        company_only={"company_domain": company, "max_contacts": 3},
        csv_rows=[{column: row.get(column, "") for column in CSV_COLUMNS} for row in rows],
    )
