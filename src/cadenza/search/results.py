"""What searches return: hits with highlights, facets, pages with a cursor, suggestions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class SearchHit:
    kind: str
    id: int
    title: str
    artists: list[str]
    release: str | None
    genre: str | None
    release_date: date | None
    play_count: int
    match: str  # the tier: exact, phrase, words, prefix, phonetic, fuzzy
    highlights: dict[str, str] = field(default_factory=dict)  # field → HTML-escaped text with <em> marks


@dataclass
class Facet:
    genre: str
    count: int


@dataclass
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None
    total: int  # matches counted, up to `FACET_SAMPLE`
    total_exact: bool  # False when there are more matches than were counted
    facets: list[Facet]


@dataclass
class Suggestion:
    kind: str
    id: int
    text: str
    highlight: str
