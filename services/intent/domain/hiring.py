"""Open jobs as buying signals: a company hiring sales operations people is about to buy sales tools.

Each posting's department comes from the title normaliser (``libs.normalize``); postings of one
department add up to one signal (``hiring_sales_ops``, ``hiring_sales``, ...) whose strength grows
with their number and whose observation time is the newest posting's date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from libs.normalize import normalize_title
from services.intent.domain.signals import Category, Signal, count_boost

__all__ = ["HIRING_SIGNALS", "JobPosting", "classify_posting", "hiring_signals"]


@dataclass(frozen=True)
class JobPosting:
    title: str
    posted_time: datetime | None
    url: str = ""
    # The board's own department or team name, when it gives one.
    department: str = ""
    location: str = ""
    # "greenhouse" or "lever".
    board: str = ""


# Department (libs.normalize's values) -> (signal, strength of one opening posted just now).
HIRING_SIGNALS: dict[str, tuple[str, int]] = {
    "revenue_operations": ("hiring_sales_ops", 70),
    "sales": ("hiring_sales", 60),
    "marketing": ("hiring_marketing", 55),
    "executive": ("hiring_executive", 50),
    "customer_success": ("hiring_customer_success", 45),
    "engineering": ("hiring_engineering", 40),
    "product": ("hiring_product", 40),
    "it": ("hiring_it", 40),
    "operations": ("hiring_operations", 35),
    "finance": ("hiring_finance", 35),
    "hr": ("hiring_hr", 30),
    "legal": ("hiring_legal", 30),
}
MAX_EVIDENCE = 5
PER_DOUBLING = 8


@dataclass(frozen=True)
class _Classified:
    posting: JobPosting
    # The normaliser's standard form of the title.
    title: str
    department: str


def classify_posting(posting: JobPosting) -> tuple[str, str | None]:
    """(standard title, department) of a posting; the board's department name when the title
    alone does not tell (``"Associate"`` in the ``"Sales"`` department)."""
    normalized = normalize_title(posting.title)
    department = normalized.department
    if department is None and posting.department:
        department = normalize_title(posting.department).department
    return normalized.title or posting.title, department.value if department else None


def _evidence(item: _Classified) -> str:
    when = item.posting.posted_time
    return f"{item.title} ({when:%Y-%m-%d})" if when else item.title


def hiring_signals(postings: Iterable[JobPosting], fetched: datetime) -> list[Signal]:
    """One signal per department hiring; a posting without a date counts as posted at ``fetched``."""
    groups: dict[str, list[_Classified]] = {}
    for posting in postings:
        title, department = classify_posting(posting)
        if department in HIRING_SIGNALS:
            groups.setdefault(department, []).append(_Classified(posting, title, department))
    signals = []
    for department, group in groups.items():
        name, strength = HIRING_SIGNALS[department]
        group.sort(key=lambda item: item.posting.posted_time or fetched, reverse=True)
        evidence = list(dict.fromkeys(_evidence(item) for item in group))[:MAX_EVIDENCE]
        boards = sorted({item.posting.board for item in group if item.posting.board})
        signals.append(
            Signal(
                name=name,
                category=Category.HIRING,
                base_strength=count_boost(strength, len(group), PER_DOUBLING),
                observed_time=group[0].posting.posted_time or fetched,
                source="+".join(boards) or "job_board",
                evidence=tuple(evidence),
                count=len(group),
            )
        )
    return signals
