"""Ranking rules: match tiers, and the boolean query each tier runs.

A document's tier is the best way the query matched it; results are ordered by tier, then play count, then
recency (release date, else the day it was added), then id. Each tier's query matches a superset of the
documents of the tiers above it, except `exact` and `phrase`, which refine `words`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cadenza.search.query import ParsedQuery, QueryWord


class Tier(enum.IntEnum):
    partial = -1  # all words but one match as in `fuzzy` (2 to 6 words; run per word left out)
    fuzzy = 0  # a word is one or two edits away from a document word
    phonetic = 1  # a word sounds like a document word (Double Metaphone, consonant skeleton)
    prefix = 2  # a word starts a document word
    words = 3  # every word appears as a whole word, in any field
    phrase = 4  # the words appear together, in order, in one field
    exact = 5  # the query is a whole field: a title, an artist's name, a release title


@dataclass(frozen=True)
class Alt:
    """A document word a query word may match: equal, or starting with `term` when `prefix`."""

    term: str
    prefix: bool = False


@dataclass(frozen=True)
class Clause:
    """A document matches a clause when it has one of `alts`, or, for a phrase, its words in a row."""

    alts: tuple[Alt, ...] = ()
    phrase: tuple[str, ...] = ()


Level = tuple[Clause, ...]


@dataclass
class Expansions:
    """Vocabulary words that sound like or are typos of each query word (looked up only when needed)."""

    phonetic: dict[str, tuple[str, ...]]
    typo: dict[str, tuple[str, ...]]


def prefix_allowed(word: QueryWord, *, last: bool) -> bool:
    # One letter starts a twentieth of all words: only the word being typed may be that short.
    return last or len(word.text) >= 2


def level(query: ParsedQuery, tier: Tier, exp: Expansions | None = None) -> Level | None:
    """The boolean query for `tier` (None when the tier does not apply to this query)."""
    phrases = tuple(Clause(phrase=p) for p in query.phrases)
    if tier == Tier.phrase:
        if len(query.words) < 2 or any(len(w.forms) > 1 for w in query.words):
            return None
        return (Clause(phrase=tuple(w.text for w in query.words)), *phrases)
    clauses: list[Clause] = []
    last = len(query.words) - 1
    for i, word in enumerate(query.words):
        alts = [Alt(f) for f in word.forms]
        if tier <= Tier.prefix and prefix_allowed(word, last=i == last):
            alts += [Alt(f, prefix=True) for f in word.forms]
        if tier <= Tier.phonetic and exp is not None:
            alts += [Alt(t) for f in word.forms for t in exp.phonetic.get(f, ())]
        if tier <= Tier.fuzzy and exp is not None:
            alts += [Alt(t) for f in word.forms for t in exp.typo.get(f, ())]
        clauses.append(Clause(alts=tuple(dict.fromkeys(_simplify(alts)))))
    return (*clauses, *phrases) if clauses or phrases else None


def _simplify(alts: list[Alt]) -> list[Alt]:
    """Drop alternatives another one already covers (`queens` when `queen*` is there)."""
    prefixes = [a.term for a in alts if a.prefix]
    return [a for a in alts if a.prefix or not any(a.term.startswith(p) for p in prefixes)]
