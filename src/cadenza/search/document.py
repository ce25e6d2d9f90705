"""Search documents: what the index holds for one track, artist or release, built from catalog rows."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from cadenza.search.folding import Folded, fold, fold_keyword
from cadenza.search.phonetic import metaphone_keys, skeleton
from cadenza.search.similarity import trigrams


class Kind(enum.IntEnum):
    track = 1
    artist = 2
    release = 3


class Field(enum.IntEnum):
    """Indexed fields, in the order exact matches rank them (a title beats an artist's name)."""

    title = 0
    artist = 1
    release = 2
    genre = 3


@dataclass
class Document:
    kind: Kind
    ref_id: int
    title: str
    artists: list[str] = field(default_factory=list)
    release: str | None = None
    genre: str | None = None
    release_id: int | None = None
    release_date: date | None = None
    popularity: int = 0
    recency: int = 0
    artist_ids: list[int] = field(default_factory=list)

    @cached_property
    def folded(self) -> dict[Field, list[Folded]]:
        return {
            Field.title: [fold(self.title)],
            Field.artist: [fold(a) for a in self.artists],
            Field.release: [fold(self.release)] if self.release else [],
            Field.genre: [fold(self.genre)] if self.genre else [],
        }

    def text(self, f: Field) -> str:
        """The words of a field for the full-text index: each value's words in order, then its other forms."""
        return " ".join(w for folded in self.folded[f] for w in folded.words + folded.extra)

    def exact_keys(self) -> set[tuple[Field, str]]:
        """Whole-field keys for exact matches (the genre is a filter, not a name)."""
        return {
            (f, folded.key[:300])
            for f, values in self.folded.items()
            if f != Field.genre
            for folded in values
            if folded.key
        }

    def terms(self) -> dict[str, bool]:
        """Vocabulary words of this document, each with whether it came from an abjad script."""
        out: dict[str, bool] = {}
        for values in self.folded.values():
            for folded in values:
                for t in folded.terms:
                    out[t] = out.get(t, False) or t in folded.abjad
        return out

    @property
    def genre_key(self) -> str | None:
        return fold_keyword(self.genre)


def recency(release_date: date | None, created_at: datetime | None) -> int:
    """Days since year 1 of the release date, else of the day the item was added."""
    day = release_date or (created_at.date() if created_at else None)
    return day.toordinal() if day else 0


def term_row(term: str, abjad: bool) -> dict[str, object]:
    """A vocabulary row: the word with its phonetic keys and trigram count, for expansions."""
    keys = metaphone_keys(term)
    return {
        "term": term,
        "length": len(term),
        "dm1": keys[0] if keys else None,
        "dm2": keys[1] if len(keys) > 1 else None,
        "skel": (skeleton(term) or None) if abjad else None,
        "grams": len(trigrams(term)),
    }
