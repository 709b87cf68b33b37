"""Job titles: one standard form, a seniority and a department.

``normalize_title("Sr. Dir. RevOps")`` is ``JobTitle("Senior Director of Revenue Operations",
seniority=director, department=revenue_operations)``. The vocabulary lives in the ``data/title_*``
tables; this module only tokenises, expands, finds the head of each role and writes it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from libs.normalize._phrases import PhraseMatch, PhraseTable
from libs.normalize._tables import read_lines, read_rows
from libs.normalize.taxonomy import Department, Seniority

__all__ = ["JobTitle", "normalize_title"]


@dataclass(frozen=True, slots=True)
class JobTitle:
    title: str
    raw: str
    seniority: Seniority | None
    department: Department | None


@dataclass(frozen=True, slots=True)
class _Rank:
    seniority: Seniority | None  # None: the phrase only shadows a shorter one ("product owner")
    style: str  # of | suffix | plain | modifier | lead


def _tokens(phrase: str) -> list[str]:
    return ["&" if word == "and" else word for word in phrase.split()]


def _load_abbreviations() -> PhraseTable[tuple[list[str], list[str]]]:
    rows = read_rows("title_abbreviations.tsv")
    return PhraseTable(
        ((_tokens(r[0]), (_tokens(r[1]), _tokens(r[2] if len(r) > 2 else r[1]))) for r in rows),
        "title_abbreviations",
    )


def _load_ranks() -> PhraseTable[_Rank]:
    def rank(row: list[str]) -> _Rank:
        return _Rank(None if row[1] == "-" else Seniority(row[1]), row[2])

    return PhraseTable(((_tokens(r[0]), rank(r)) for r in read_rows("title_ranks.tsv", 3)), "title_ranks")


_ABBREVIATIONS = _load_abbreviations()
_RANKS = _load_ranks()
_DEPARTMENTS: PhraseTable[Department] = PhraseTable(
    ((_tokens(r[0]), Department(r[1])) for r in read_rows("title_departments.tsv")), "title_departments"
)
_REGIONS: PhraseTable[bool] = PhraseTable(
    ((_tokens(line), True) for line in read_lines("title_regions.txt")), "title_regions"
)
_WORDS = {row[0]: row[1] for row in read_rows("title_words.tsv")}

_SEPARATORS = frozenset({",", "&", "/"})
_CONNECTORS = frozenset({",", "&", "/", "of", "for", "in", "-", "the"})
_PREFIXES = frozenset(
    "associate assistant executive group global regional area national international district "
    "deputy interim acting divisional".split()
)
_OF_HEAD_WORDS = frozenset({"director", "president", "head"})
_CUT_AFTER = frozenset({"assistant", "advisor", "adviser", "reporting", "reports", "staff"})

_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_AT_COMPANY = re.compile(r"\s+(?:at|@)\s+\S.*$", re.IGNORECASE)
_DOTTED_ACRONYM = re.compile(r"\b(?:[a-z]\.){2,}")
_SEGMENTS = re.compile(r"\s+[-\u2013\u2014]+\s+|[|;\u2022\u00b7\u2013\u2014]|\s+-\s*$")
_TOKEN = re.compile(r"\b[a-z]{1,2}&[a-z]{1,2}\b|[^\W_][\w'+#]*(?:-[\w'+#]+)*|[&/,]")


def _expand(tokens: list[str]) -> list[str]:
    """Abbreviations replaced by their words, leftmost-longest."""
    out: list[str] = []
    position = 0
    while position < len(tokens):
        match = _ABBREVIATIONS.longest_at(tokens, position)
        if match is None:
            out.append(tokens[position])
            position += 1
            continue
        words, at_end = match.value
        ends_role = match.end == len(tokens) or tokens[match.end] in _SEPARATORS
        if ends_role and not _OF_HEAD_WORDS.intersection(out):
            words = at_end
        out.extend(words)
        position = match.end
    return out


def _has_head(tokens: list[str]) -> bool:
    return _has_head_cached(tuple(tokens))


@lru_cache(maxsize=16384)
def _has_head_cached(tokens: tuple[str, ...]) -> bool:
    return (
        any(m.value.seniority is not None and m.value.style != "modifier" for m in _RANKS.scan(tokens))
        or _chief_officer(list(tokens)) is not None
    )


def _roles(tokens: list[str]) -> list[list[str]]:
    """A segment split into roles at "&", "/" and "," when both sides name a role of their own."""
    parts: list[tuple[str, list[str]]] = []
    separator, words = "", list[str]()
    for token in tokens:
        if token in _SEPARATORS:
            parts.append((separator, words))
            separator, words = token, []
        else:
            words.append(token)
    parts.append((separator, words))
    roles: list[list[str]] = []
    current: list[str] = []
    for separator, words in parts:
        if not words:
            continue
        if current and _has_head(words) and _has_head(current):
            roles.append(current)
            current = []
        if current:
            current.append("&" if separator == "/" else separator)
        current.extend(words)
    roles.append(current)
    return [role for role in (_trim(r) for r in roles) if role]


def _trim(tokens: list[str]) -> list[str]:
    start, end = 0, len(tokens)
    while start < end and tokens[start] in _CONNECTORS:
        start += 1
    while end > start and tokens[end - 1] in _CONNECTORS:
        end -= 1
    return tokens[start:end]


def _chief_officer(tokens: list[str]) -> tuple[int, int] | None:
    """Positions of "chief" and "officer" in "chief <function> officer"."""
    if "chief" not in tokens or "officer" not in tokens:
        return None
    chief, officer = tokens.index("chief"), tokens.index("officer")
    if 0 < officer - chief <= 4:
        return chief, officer
    return None


@lru_cache(maxsize=16384)
def _word(word: str, first: bool) -> str:
    written = _WORDS.get(word)
    if written is not None and (not first or not written.islower()):
        return written
    parts = word.split("-")
    return "-".join(
        p if (i and p in _WORDS and _WORDS[p].islower()) else (_WORDS.get(p) or p[:1].upper() + p[1:])
        for i, p in enumerate(parts)
    )


def _write(tokens: list[str]) -> str:
    text = ""
    for token in tokens:
        if token == ",":
            text += ","
        else:
            text += (" " if text else "") + _word(token, not text)
    return text


@dataclass(frozen=True)
class _Role:
    title: str
    seniority: Seniority | None
    department: Department | None
    has_head: bool


def _analyse(tokens: list[str]) -> _Role:
    return _analyse_cached(tuple(tokens))


@lru_cache(maxsize=32768)
def _analyse_cached(role: tuple[str, ...]) -> _Role:
    tokens = list(role)
    tail: list[str] = []
    for index, token in enumerate(tokens):
        if token == "to" and _CUT_AFTER.intersection(tokens[:index]):
            tokens, tail = tokens[:index], tokens[index:]
            break
    chief = _chief_officer(tokens)
    skip = frozenset(chief) if chief else frozenset()
    ranks = [m for m in _RANKS.scan(tokens, skip) if m.value.seniority is not None]
    heads: list[tuple[PhraseMatch[_Rank], _Rank]] = []
    modifiers: list[tuple[PhraseMatch[_Rank], Seniority]] = []
    for i, match in enumerate(ranks):
        rank = match.value
        assert rank.seniority is not None
        words = tokens[match.start : match.end]
        if rank.style == "lead":
            if any(later.value.style != "modifier" for later in ranks[i + 1 :]):
                modifiers.append((match, Seniority.SENIOR))
            else:
                heads.append((match, _Rank(Seniority.MANAGER, "suffix")))
        elif words == ["head"] and match.end < len(tokens) and tokens[match.end] not in _CONNECTORS:
            modifiers.append((match, Seniority.MANAGER))
        elif rank.style == "modifier":
            modifiers.append((match, rank.seniority))
        else:
            heads.append((match, rank))
    head_span: tuple[int, int] | None = None
    style = "plain"
    levels = [level for _, level in modifiers]
    if chief:
        head_span, style = (chief[0], chief[1] + 1), "plain"
        levels.append(Seniority.C_LEVEL)
    elif heads:
        match, rank = max(heads, key=lambda h: (h[1].seniority.rank if h[1].seniority else -1, h[0].start))
        head_span, style = (match.start, match.end), rank.style
        levels += [r.seniority for _, r in heads if r.seniority is not None]
    seniority = max(levels, key=lambda s: s.rank) if levels else (Seniority.ENTRY if tokens else None)
    rank_positions = {p for m in ranks for p in range(m.start, m.end)} | set(skip)
    department = _department(tokens, head_span, rank_positions, ranks, chief is not None)
    title = _standard(tokens, head_span, style, [m for m, _ in modifiers])
    if tail:
        title = f"{title} {_write(tail)}".strip()
    return _Role(title, seniority, department, head_span is not None)


def _department(
    tokens: list[str],
    head: tuple[int, int] | None,
    rank_positions: set[int],
    ranks: list[PhraseMatch[_Rank]],
    chief: bool,
) -> Department | None:
    found: list[PhraseMatch[Department]] = []
    position = 0
    while position < len(tokens):
        match = _DEPARTMENTS.longest_at(tokens, position)
        if match is not None and not rank_positions.issuperset(range(match.start, match.end)):
            found.append(match)
            position = match.end
        else:
            position += 1
    if head is not None:
        for start in range(head[0]):
            covering = _DEPARTMENTS.get(tokens[start : head[1]])
            if covering is not None:
                return covering
        own = None if chief else _DEPARTMENTS.get(tokens[head[0] : head[1]])
        if own is not None and (own is not Department.EXECUTIVE or not found):
            return own
    if found:
        return found[0].value
    for rank in ranks:
        own = _DEPARTMENTS.get(tokens[rank.start : rank.end])
        if own is not None:
            return own
    return None


def _standard(
    tokens: list[str], head: tuple[int, int] | None, style: str, modifiers: list[PhraseMatch[_Rank]]
) -> str:
    if head is None or style == "plain":
        return _write(tokens)
    moved = {p for m in modifiers for p in range(m.start, m.end) if m.end <= head[0] or m.start >= head[1]}
    start = head[0]
    while start > 0 and (start - 1 in moved or tokens[start - 1] in _PREFIXES):
        start -= 1
        moved.add(start)
    if style == "of":
        start = 0
        while start < head[0] and (start in moved or tokens[start] in _PREFIXES):
            moved.add(start)
            start += 1
    prefix = [tokens[p] for p in sorted(moved)]
    before = _trim([t for p, t in enumerate(tokens[: head[0]]) if p not in moved])
    after = _trim([t for p, t in enumerate(tokens[head[1] :], head[1]) if p not in moved])
    words = tokens[head[0] : head[1]]
    if style == "of":
        words = words[:-1] if words[-1] == "of" else words
        before, before_regions = _split_regions(before)
        after, after_regions = _split_regions(after)
        function = before + ([","] if before and after else []) + after
        title = _write([*prefix, *words, *(["of", *function] if function else [])])
        regions = before_regions + after_regions
        return f"{title}, {' & '.join(_write(r) for r in regions)}" if regions else title
    inverted = not before and after and head[1] < len(tokens) and tokens[head[1]] in _CONNECTORS
    if inverted:
        return _write([*prefix, *after, *words])
    rest = [t for p, t in enumerate(tokens) if p not in moved]
    return _write(_trim([*prefix, *rest]))


def _split_regions(tokens: list[str]) -> tuple[list[str], list[list[str]]]:
    """A function's words without the regions in it, and those regions."""
    spans = _REGIONS.scan(tokens)
    if not spans:
        return tokens, []
    inside = {p for m in spans for p in range(m.start, m.end)}
    rest = _trim([t for p, t in enumerate(tokens) if p not in inside])
    return rest, [tokens[m.start : m.end] for m in spans]


def _qualifies(role: _Role, tokens: list[str]) -> bool:
    """Whether a segment without a role of its own names the function or region of ``role``."""
    if not role.has_head or role.department is not None or _has_head(tokens):
        return False
    return bool(_DEPARTMENTS.scan(tokens) or _REGIONS.scan(tokens))


def _clean(raw: str) -> str:
    text = _PARENTHESES.sub(" ", raw)
    text = _AT_COMPANY.sub("", text).lower()
    text = _DOTTED_ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    return text.replace(".", " ")


@lru_cache(maxsize=65536)
def normalize_title(raw: str) -> JobTitle:
    """The standard form of a job title, its seniority and its department.

    Roles joined in one title ("Founder & CEO") are all kept; the most senior one gives the
    seniority and, unless it is a general executive role, the department.
    """
    text = _clean(raw)
    roles: list[_Role] = []
    previous: list[str] = []
    for segment in _SEGMENTS.split(text):
        tokens = ["&" if t == "and" else t for t in _expand(_TOKEN.findall(segment))]
        if not tokens:
            continue
        if previous and roles and _qualifies(roles[-1], tokens):
            # "Director - Global Talent Acquisition": the segment is the function of the role before.
            previous = [*previous, ",", *tokens]
            roles[-1] = _analyse(previous)
            continue
        split = _roles(tokens)
        roles += [_analyse(role) for role in split]
        previous = split[-1] if split else []
    kept = [r for r in roles if r.has_head or r.department is not None] or roles[:1]
    if not kept:
        return JobTitle("", raw, None, None)
    primary = max(kept, key=lambda r: r.seniority.rank if r.seniority else -1)
    department = primary.department
    if department in (None, Department.EXECUTIVE):
        for role in kept:
            specific = role.department not in (None, Department.EXECUTIVE)
            if specific and role.seniority is not None and role.seniority.rank >= Seniority.PARTNER.rank:
                department = role.department
                break
    if department is None:
        department = next((r.department for r in kept if r.department is not None), None)
    return JobTitle(" & ".join(r.title for r in kept), raw, primary.seniority, department)
