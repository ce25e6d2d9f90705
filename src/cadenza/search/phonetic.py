"""Phonetic keys: Double Metaphone for words that sound alike, consonant skeletons for abjad scripts."""

from __future__ import annotations

import re
from functools import lru_cache

from metaphone import doublemetaphone

MIN_LENGTH = 3  # shorter words have keys shared by too many others to be useful
_SKELETON_DROP = re.compile(r"[aeiouyvw']")
_REPEAT = re.compile(r"(.)\1+")


@lru_cache(maxsize=200_000)
def metaphone_keys(word: str) -> tuple[str, ...]:
    """Primary and alternate Double Metaphone keys (`shopan` and `chopin` are both `XPN`)."""
    if len(word) < MIN_LENGTH or not word.isascii() or word.isdigit():
        return ()
    keys = [k for k in doublemetaphone(word) if k]
    return tuple(dict.fromkeys(keys))


def skeleton(word: str) -> str:
    """Consonants only, repeats collapsed: Arabic and Hebrew spellings (`fyrwz`) meet Latin ones (`fairuz`).

    Vav, waw and yod stand for vowels as often as for consonants, so v, w and y are dropped too."""
    if word.isdigit():
        return ""
    return _REPEAT.sub(r"\1", _SKELETON_DROP.sub("", word))
