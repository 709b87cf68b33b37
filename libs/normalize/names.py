"""Person names: split, cased and keyed for matching."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from libs.normalize._tables import read_rows

__all__ = ["PersonName", "normalize_person_name", "person_name_key"]

_NICKNAMES = {row[0]: row[1] for row in read_rows("nicknames.tsv")}
_HONORIFICS = frozenset("mr mrs ms miss mx dr prof sir dame rev".split())
_SUFFIXES = frozenset("jr sr ii iii iv v phd md mba cpa esq pmp cfa pe rn dds jd mph msc bsc ma ba".split())
_PARTICLES = frozenset("van von der den de del della di da du la le st bin ibn al".split())
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*", re.UNICODE)
_KEY_CHARS = re.compile(r"[^a-z]")
_TRAILING_SUFFIX = re.compile(r",\s*(?:" + "|".join(sorted(_SUFFIXES)) + r")\.?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PersonName:
    first_name: str
    last_name: str
    full_name: str


def _case(word: str, position: int) -> str:
    lower = word.lower()
    if position > 0 and lower in _PARTICLES:
        return lower
    parts = re.split(r"(['\u2019-])", lower)
    out = []
    for part in parts:
        if part in ("'", "\u2019", "-") or not part:
            out.append(part)
        elif part.startswith("mc") and len(part) > 2:
            out.append("Mc" + part[2].upper() + part[3:])
        else:
            out.append(part[:1].upper() + part[1:])
    return "".join(out)


def _words(text: str) -> list[str]:
    words = _WORD.findall(text)
    while words and words[0].lower().rstrip(".") in _HONORIFICS:
        words = words[1:]
    while len(words) > 1 and words[-1].lower().replace(".", "") in _SUFFIXES:
        words = words[:-1]
    return words


def _write(words: list[str], offset: int = 0) -> str:
    mixed = any(w != w.lower() and w != w.upper() for w in words)
    if mixed:
        return " ".join(words)
    return " ".join(_case(word, offset + i) for i, word in enumerate(words))


@lru_cache(maxsize=65536)
def normalize_person_name(first: str = "", last: str = "", full: str = "") -> PersonName:
    """First, last and full name with honorifics and post-nominals dropped and all-caps or
    all-lower names cased (``"JOHN MCDONALD"`` -> ``John McDonald``); a name already in mixed
    case is kept as written. ``full`` is split when first and last are not given (middle names
    stay in the full name only), and ``"Doe, Jane"`` is understood."""
    first_words, last_words = _words(first), _words(last)
    if first_words or last_words or not full.strip():
        first_name, last_name = _write(first_words), _write(last_words, offset=1)
        return PersonName(first_name, last_name, " ".join(p for p in (first_name, last_name) if p))
    text = full.strip()
    while (trailing := _TRAILING_SUFFIX.search(text)) is not None:
        text = text[: trailing.start()]
    if text.count(",") == 1:
        surname, _, given = text.partition(",")
        if _words(given) and _words(surname) == _WORD.findall(surname):
            text = f"{given} {surname}"
    words = _words(text)
    split = len(words) - 1
    while split > 1 and words[split - 1].lower() in _PARTICLES:
        split -= 1
    first_name = _write(words[:1])
    last_name = _write(words[split:], offset=1) if len(words) > 1 else ""
    return PersonName(first_name, last_name, _write(words))


def _key_part(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower())
    return _KEY_CHARS.sub("", "".join(ch for ch in folded if not unicodedata.combining(ch)))


@lru_cache(maxsize=65536)
def person_name_key(first: str = "", last: str = "", full: str = "") -> str:
    """``"michael chen"`` for Mike Chen, MICHAEL CHEN or "Chen, Michael": ASCII, lower-case, the
    first given name with common short forms expanded. Empty without both names."""
    name = normalize_person_name(first, last, full)
    given = _key_part(name.first_name.split(" ")[0]) if name.first_name else ""
    family = _key_part(name.last_name)
    if not given or not family:
        return ""
    return f"{_NICKNAMES.get(given, given)} {family}"
