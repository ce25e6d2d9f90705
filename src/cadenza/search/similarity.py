"""Typo tolerance: pg_trgm's trigram similarity (in plain Python) and Damerau-Levenshtein distance."""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz.distance import OSA

# A term is a typo of the query word when they share this much (pg_trgm's default `%` threshold) ...
MIN_SIMILARITY = 0.3


def max_edits(word: str) -> int:
    """... and are at most this many edits apart (Elasticsearch's AUTO fuzziness)."""
    n = len(word)
    return 0 if n <= 2 else 1 if n <= 5 else 2


@lru_cache(maxsize=100_000)
def trigrams(word: str) -> frozenset[str]:
    """The trigrams pg_trgm takes from one lower-case alphanumeric word (two spaces before, one after)."""
    padded = f"  {word} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def similarity(a: str, b: str) -> float:
    """pg_trgm's `similarity(a, b)` for lower-case alphanumeric words."""
    ta, tb = trigrams(a), trigrams(b)
    shared = len(ta & tb)
    return shared / (len(ta) + len(tb) - shared) if ta or tb else 0.0


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (adjacent swaps cost one), or `limit + 1` once it exceeds `limit`
    (rapidfuzz's C++ OSA: a search scores up to a few hundred candidates)."""
    return int(OSA.distance(a, b, score_cutoff=limit))


def is_typo_of(query_word: str, term: str) -> bool:
    """The shared acceptance rule for fuzzy matches, applied to candidates from either backend."""
    edits = max_edits(query_word)
    if edits == 0 or term == query_word:
        return False
    return similarity(query_word, term) >= MIN_SIMILARITY and edit_distance(query_word, term, edits) <= edits
