"""Company names: a matching key without legal forms, a display name, and fuzzy matching."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from libs.normalize._tables import read_lines

__all__ = ["CompanyMatch", "clean_company_name", "company_key", "company_similarity", "match_company"]

_LEGAL_FORMS = frozenset(read_lines("legal_suffixes.txt"))
_LONGEST_FORM = max(len(form.split()) for form in _LEGAL_FORMS)
_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")
_SLASHED_FORM = re.compile(r"\b(\w)/(\w)\b")
_TRAILING_FORM = re.compile(
    r"[\s,]+(?:"
    + "|".join(
        r"\.?\s*".join(re.escape(ch) for ch in form.replace(" ", "")) + r"\.?"
        for form in sorted(_LEGAL_FORMS, key=len, reverse=True)
    )
    + r")\s*$",
    re.IGNORECASE,
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def company_key(name: str) -> str:
    """The form two names of one company share: ``"ACME, Inc."``, ``"Acme Corporation"`` and
    ``"The Acme Company"`` are all ``acme``. Empty when nothing is left."""
    text = _fold(name).lower().replace("&", " and ").replace("+", " and ")
    text = _SLASHED_FORM.sub(r"\1\2", text)  # "A/S" is "as"
    text = _PUNCTUATION.sub(lambda m: "" if m.group(0) in ".'" else " ", text)
    words = _SPACES.sub(" ", text).strip().split(" ")
    if words and words[0] == "the" and len(words) > 1:
        words = words[1:]
    while len(words) > 1:
        for size in range(min(_LONGEST_FORM, len(words) - 1), 0, -1):
            if " ".join(words[-size:]) in _LEGAL_FORMS:
                words = words[:-size]
                break
        else:
            if words[-1] == "and":
                words = words[:-1]
                continue
            break
    return " ".join(w for w in words if w)


def clean_company_name(name: str) -> str:
    """A name for display: trimmed, single-spaced, without a trailing legal form
    (``"Acme, Inc."`` -> ``"Acme"``); the case is the source's."""
    text = _SPACES.sub(" ", name).strip()
    for _ in range(3):
        stripped = _TRAILING_FORM.sub("", text).strip(" ,")
        if stripped == text or not stripped:
            break
        text = stripped
    return text


def company_similarity(a: str, b: str) -> float:
    """0.0-1.0: how likely two names are one company, on their keys (word order and legal
    forms do not count)."""
    left, right = company_key(a), company_key(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    return float(fuzz.token_sort_ratio(left, right)) / 100.0


@dataclass(frozen=True, slots=True)
class CompanyMatch:
    index: int
    name: str
    score: float


def match_company(name: str, candidates: Sequence[str], threshold: float = 0.9) -> CompanyMatch | None:
    """The candidate most likely to be ``name``, when its similarity reaches ``threshold``."""
    key = company_key(name)
    if not key or not candidates:
        return None
    keys = [company_key(candidate) for candidate in candidates]
    best = process.extractOne(key, keys, scorer=fuzz.token_sort_ratio, score_cutoff=threshold * 100)
    if best is None:
        return None
    _, score, index = best
    return CompanyMatch(index, candidates[index], float(score) / 100.0)
