"""Typo tolerance: pg_trgm's trigram similarity and Damerau-Levenshtein distance, in plain Python."""

from __future__ import annotations

from functools import lru_cache

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
    """Optimal-string-alignment distance (adjacent swaps cost one), or `limit + 1` once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


def is_typo_of(query_word: str, term: str) -> bool:
    """The shared acceptance rule for fuzzy matches, applied to candidates from either backend."""
    edits = max_edits(query_word)
    if edits == 0 or term == query_word:
        return False
    return similarity(query_word, term) >= MIN_SIMILARITY and edit_distance(query_word, term, edits) <= edits
