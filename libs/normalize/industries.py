"""Industries mapped onto the one leadmesh taxonomy (``data/industries.tsv``)."""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

from libs.normalize._tables import read_rows

__all__ = ["INDUSTRIES", "normalize_industry"]

_NON_WORD = re.compile(r"[^a-z0-9]+")


def _key(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower().replace("&", " and ")).strip()


def _load() -> tuple[tuple[str, ...], dict[str, str]]:
    names: list[str] = []
    synonyms: dict[str, str] = {}
    for row in read_rows("industries.tsv"):
        name = row[0]
        names.append(name)
        for synonym in [name, *row[1].split("|")]:
            key = _key(synonym)
            if synonyms.get(key, name) != name:
                raise ValueError(f"industries.tsv: {synonym!r} maps to both {synonyms[key]!r} and {name!r}")
            synonyms[key] = name
    return tuple(names), synonyms


INDUSTRIES, _SYNONYMS = _load()
_KEYS = list(_SYNONYMS)


@lru_cache(maxsize=4096)
def normalize_industry(label: str, threshold: float = 0.88) -> str | None:
    """The taxonomy's name for an industry label (``"Computer Software"`` -> ``Software``,
    ``"hospital & health care"`` -> ``Healthcare``), matched exactly on a punctuation-free key,
    then fuzzily (rapidfuzz) at ``threshold``; None when nothing is close enough."""
    key = _key(label)
    if not key:
        return None
    exact = _SYNONYMS.get(key)
    if exact is not None:
        return exact
    best = process.extractOne(key, _KEYS, scorer=fuzz.token_sort_ratio, score_cutoff=threshold * 100)
    return None if best is None else _SYNONYMS[best[0]]
