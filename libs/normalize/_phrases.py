"""Leftmost-longest matching of multi-word phrases over a token list, with a token trie."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

__all__ = ["PhraseMatch", "PhraseTable"]

V = TypeVar("V")
_END = ""  # key of a node's value: never a token, since tokens are non-empty
_Node = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PhraseMatch(Generic[V]):
    start: int
    end: int
    value: V


class PhraseTable(Generic[V]):
    """Phrases of one or more tokens and a value each; duplicates are a broken table."""

    def __init__(self, entries: Iterable[tuple[Sequence[str], V]], name: str = "table"):
        self._root: _Node = {}
        for tokens, value in entries:
            if not tokens:
                raise ValueError(f"{name}: empty phrase")
            node = self._root
            for token in tokens:
                node = node.setdefault(token, {})
            if _END in node:
                raise ValueError(f"{name}: duplicate phrase {' '.join(tokens)!r}")
            node[_END] = value

    def longest_at(self, tokens: Sequence[str], start: int) -> PhraseMatch[V] | None:
        """The longest phrase that starts at ``tokens[start]``, if any."""
        node = self._root.get(tokens[start])
        best: PhraseMatch[V] | None = None
        position = start
        while isinstance(node, dict):
            position += 1
            if _END in node:
                best = PhraseMatch(start, position, cast(V, node[_END]))
            if position >= len(tokens):
                break
            node = node.get(tokens[position])
        return best

    def scan(self, tokens: Sequence[str], skip: frozenset[int] = frozenset()) -> list[PhraseMatch[V]]:
        """Non-overlapping matches, leftmost first, longest at each position; ``skip`` indexes
        never start or join a match."""
        matches: list[PhraseMatch[V]] = []
        position = 0
        while position < len(tokens):
            match = None if position in skip else self.longest_at(tokens, position)
            if match is not None and not skip.intersection(range(match.start, match.end)):
                matches.append(match)
                position = match.end
            else:
                position += 1
        return matches

    def get(self, tokens: Sequence[str]) -> V | None:
        """The value of exactly this phrase."""
        match = self.longest_at(tokens, 0) if tokens else None
        return match.value if match is not None and match.end == len(tokens) else None
