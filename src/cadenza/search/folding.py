"""Folding: any script to lower-case ASCII words, so a query and a name meet whatever each is written in.

Shared by indexing and querying on every backend; this is what makes both databases behave the same.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from anyascii import anyascii

MAX_INPUT = 1000  # characters of one field that are folded; titles are at most 500
MAX_WORD = 60  # longer "words" are noise (hashes, runs of letters) and would bloat the vocabulary

_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile("[\u3005\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]+")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile("[\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Arabic and Hebrew write few vowels: their words also get a consonant skeleton key (see phonetic.py).
_ABJAD = re.compile("[\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\ufb1d-\ufdff\ufe70-\ufeff]")
_LONG_VOWEL = re.compile(r"([aeiou])\1+")


@dataclass(frozen=True)
class Folded:
    """One field folded: primary words in reading order, alternative forms, and which words are abjad."""

    words: tuple[str, ...]
    extra: tuple[str, ...] = ()
    abjad: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """The field with case, accents, spaces and punctuation removed: `AC/DC` and `acdc` share it."""
        return "".join(self.words)

    @cached_property
    def terms(self) -> tuple[str, ...]:
        """Every form a query may match, primary words first, without repeats (kept: folds are cached)."""
        return tuple(dict.fromkeys(self.words + self.extra))


def fold(text: str | None) -> Folded:
    """Fold one field (a title, a name) into searchable words."""
    if not text:
        return Folded(())
    return _fold_cached(text[:MAX_INPUT])


@lru_cache(maxsize=200_000)
def _fold_cached(text: str) -> Folded:
    words: list[str] = []
    extra: list[str] = []
    abjad: set[str] = set()
    text = _clean(text)
    pos = 0
    for m in _CJK.finditer(text):
        _fold_latin(text[pos : m.start()], words, extra, abjad)
        _fold_cjk(m.group(), words, extra)
        pos = m.end()
    _fold_latin(text[pos:], words, extra, abjad)
    words = [w for w in words if len(w) <= MAX_WORD]
    # Alternative readings of one or two letters (`o`, `hi`) match far too much to be worth keeping.
    extra = [w for w in dict.fromkeys(extra) if 3 <= len(w) <= MAX_WORD and w not in words]
    return Folded(tuple(words), tuple(extra), frozenset(abjad))


def query_forms(chunk: str) -> tuple[str, ...]:
    """The ways one whitespace-separated chunk of a query may be written in the index.

    `AC/DC` is looked up as `acdc` (indexed as an alternative form of the name); a kanji run is looked
    up by its pinyin and by its Japanese reading, since which language it is cannot be told."""
    folded = fold(chunk)
    if not folded.words:
        return ()
    forms = [folded.key]
    cleaned = _clean(chunk)
    if _CJK.search(cleaned):
        japanese = "".join(w for run in _CJK.findall(cleaned) for w in _japanese(run))
        if japanese:
            forms.append(japanese)
    return tuple(f for f in dict.fromkeys(forms) if len(f) <= MAX_WORD)


def fold_keyword(text: str | None) -> str | None:
    """A keyword (a genre) for exact filtering: case, accents and punctuation do not matter."""
    key = fold(text).key
    return key[:100] or None


def _clean(text: str) -> str:
    # NFKC turns full-width and compatibility forms into plain ones; symbols (emoji, ♪) and control
    # characters carry no words, and anyascii would spell them out as `:musical_note:`.
    text = unicodedata.normalize("NFKC", text)
    return "".join(" " if unicodedata.category(ch)[0] in "SC" else ch for ch in text)


def _fold_latin(text: str, words: list[str], extra: list[str], abjad: set[str]) -> None:
    for chunk in text.split():
        parts = _WORD.findall(anyascii(chunk).lower())
        if not parts:
            continue
        words.extend(parts)
        if len(parts) > 1:
            # `AC/DC`, `R.E.M.`, `Jay-Z`: the parts are words, and so is the whole without punctuation.
            extra.append("".join(parts))
        if _ABJAD.search(chunk):
            abjad.update(parts)
            abjad.add("".join(parts))


def _fold_cjk(run: str, words: list[str], extra: list[str]) -> None:
    """Japanese and Chinese: readings in Hepburn romaji and in pinyin, whole and in parts."""
    if _KANA.search(run):
        parts = _script_runs(run)
        for part in parts:
            words.extend(_japanese(part))
        whole = "".join(_japanese(run))
        extra.append(whole)
        for part in parts:
            if _HAN.fullmatch(part):
                extra.extend(_han_splits(part))
        return
    syllables = _pinyin(run)
    words.extend(syllables)
    extra.extend(_spans(syllables))
    japanese = _japanese(run)
    if japanese:
        # A run of kanji alone may be a Japanese name (坂本龍一): its readings are alternatives.
        extra.extend(japanese)
        extra.append("".join(japanese))
        extra.extend(_han_splits(run))


def _script_runs(run: str) -> list[str]:
    """Split a Japanese run where it changes between kanji and kana (美空ひばり → 美空, ひばり)."""
    out: list[str] = []
    for ch in run:
        han = bool(_HAN.match(ch))
        if out and bool(_HAN.match(out[-1][-1])) == han:
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _han_splits(run: str) -> list[str]:
    """Readings of a kanji run cut at every point: family and given names are often read together."""
    if not 2 <= len(run) <= 5:
        return []
    out: list[str] = []
    for i in range(1, len(run)):
        for piece in (run[:i], run[i:]):
            out.append("".join(_japanese(piece)))
    return [w for w in out if w]


def _spans(syllables: tuple[str, ...]) -> list[str]:
    """Joined neighbouring syllables: pinyin names are written `Zhou Jielun`, not `Zhou Jie Lun`."""
    n = len(syllables)
    longest = n if n <= 4 else 3
    out = ["".join(syllables[i:j]) for i in range(n) for j in range(i + 2, min(n, i + longest) + 1)]
    if n > 4:
        out.append("".join(syllables))
    return out


@lru_cache(maxsize=100_000)
def _japanese(text: str) -> tuple[str, ...]:
    """Hepburn readings of Japanese text, long vowels shortened as most romanisations write them."""
    out: list[str] = []
    for seg in _kakasi().convert(text):
        reading = seg.get("hepburn") or ""
        if not reading and _CJK.search(seg.get("orig", "")):
            return ()  # a character Japanese cannot read: this is Chinese only
        for w in _WORD.findall(reading.lower()):
            out.append(_LONG_VOWEL.sub(r"\1", w.replace("ou", "o")))
    return tuple(out)


@lru_cache(maxsize=100_000)
def _pinyin(text: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for syllable in lazy_pinyin(text, style=Style.NORMAL, errors="ignore"):
        out.extend(_WORD.findall(syllable.lower()))
    return tuple(out)


@lru_cache(maxsize=1)
def _kakasi() -> Any:
    # Loaded on first use: the dictionaries take a noticeable moment and most catalogs are mostly Latin.
    import pykakasi

    return pykakasi.kakasi()
