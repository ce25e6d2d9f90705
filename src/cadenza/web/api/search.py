"""Search: results with highlights and facets, and completions as the user types (signed-in users)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cadenza.catalog import artwork
from cadenza.db.engine import reading
from cadenza.search import service
from cadenza.web.api.artwork import ArtworkOut
from cadenza.web.deps import MAX_ID, AppState, user_router
from cadenza.web.validation import text_type

router = user_router(prefix="/api/search", tags=["search"])

Q = Annotated[
    text_type(1000, strip=False), Query(description='What to look for; quote a phrase: "let it be"')
]


class HitOut(BaseModel):
    kind: str
    id: int
    title: str
    artists: list[str]
    release: str | None
    genre: str | None
    release_date: date | None
    play_count: int
    match: str
    highlights: dict[str, str]
    artwork: ArtworkOut | None = None


class FacetOut(BaseModel):
    genre: str
    count: int


class SearchOut(BaseModel):
    hits: list[HitOut]
    next_cursor: str | None
    total: int
    total_exact: bool
    facets: list[FacetOut]


class SuggestionOut(BaseModel):
    kind: str
    id: int
    text: str
    highlight: str


@router.get("", response_model=SearchOut)
def search(
    state: AppState,
    q: Q,
    type: Annotated[text_type(16), Query(description="track, artist or release")] = "track",
    genre: Annotated[text_type(100) | None, Query()] = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
    artist: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this artist's")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 20,
    cursor: Annotated[text_type(200) | None, Query()] = None,
) -> SearchOut:
    """Tracks, artists or releases matching `q`, best first; `cursor` continues from a previous page."""
    with reading(state.c.sessions) as s:
        page = service.search(
            s,
            q=q,
            type=type,
            genre=genre,
            date_from=from_,
            date_to=to,
            artist=artist,
            limit=limit,
            cursor=cursor,
        )
        out = SearchOut.model_validate(page, from_attributes=True)
        _with_artwork(s, out.hits)
    return out


_ARTWORK_OF = {"track": artwork.for_tracks, "release": artwork.for_releases, "artist": artwork.for_artists}
_IDS_ARG = {"track": "track_ids", "release": "release_ids", "artist": "artist_ids"}


def _with_artwork(s: Session, hits: list[HitOut]) -> None:
    """Each hit's cover (two queries per kind on the page)."""
    for kind, lookup in _ARTWORK_OF.items():
        ids = [h.id for h in hits if h.kind == kind]
        if ids:
            refs = lookup(s, **{_IDS_ARG[kind]: ids})
            for h in hits:
                if h.kind == kind and (ref := refs.get(h.id)) is not None:
                    h.artwork = ArtworkOut.of(ref)


@router.get("/suggest", response_model=list[SuggestionOut])
def suggest(state: AppState, q: Q, limit: Annotated[int, Query(ge=1, le=50)] = 10) -> list[SuggestionOut]:
    """Completions for a query being typed (any word may be unfinished)."""
    with reading(state.c.sessions) as s:
        found = service.suggest(s, q=q, limit=limit)
    return [SuggestionOut.model_validate(x, from_attributes=True) for x in found]
