"""Favourites: a listener stars tracks, releases and artists, and reads them back as their library,
sorted by when they were added (newest first), by title, or by artist, a page at a time.

Paging is by keyset: the cursor holds the last item's sort key, so a page costs the same at any depth
and an item starred or unstarred meanwhile neither repeats nor hides another. A title or artist sort
reads all of one listener's favourites of that kind to order them (thousands of rows at most); the
"added" sort reads its page straight from the (user_id, starred_at) index."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, func, literal, select, tuple_
from sqlalchemy.orm import Session

from cadenza.catalog import artwork
from cadenza.catalog.artwork import ArtworkRef
from cadenza.catalog.models import Artist, Release, Track, TrackArtist
from cadenza.catalog.visibility import Viewer, playable_ids
from cadenza.db.base import UTCDateTime, utcnow
from cadenza.db.lists import one_of
from cadenza.errors import InvalidInput
from cadenza.library.limits import MAX_PAGE
from cadenza.library.marks import MARKS, Kind, clear, ensure_visible, upsert
from cadenza.library.playlists import signed_in
from cadenza.library.tracks import track_info

SORTS = ("added", "title", "artist")


@dataclass(frozen=True)
class Favourite:
    kind: Kind
    id: int
    title: str  # a track's or release's title, an artist's name
    artists: tuple[str, ...]  # a track's artists, a release's artist; empty for an artist
    starred_at: datetime
    rating: int | None
    available: bool | None  # tracks: the viewer may play it now; None for releases and artists
    artwork: ArtworkRef | None = None  # as the catalog API shows the item's (`catalog.artwork`)


@dataclass(frozen=True)
class FavouritePage:
    items: list[Favourite]
    next_after: str | None  # the cursor for the next page; None on the last


def star(session: Session, *, viewer: Viewer, kind: Kind, item_id: int) -> datetime:
    """Star an item the viewer can see; starring it again keeps the first star's time (returned)."""
    user_id = signed_in(viewer)
    ensure_visible(session, kind=kind, item_id=item_id, viewer=viewer)
    upsert(
        session,
        kind=kind,
        user_id=user_id,
        item_id=item_id,
        values={"starred_at": utcnow()},
        keep={"starred_at"},
    )
    m = MARKS[kind]
    starred = session.scalar(
        select(m.model.starred_at).where(m.model.user_id == user_id, m.item_id == item_id)
    )
    assert starred is not None
    return starred


def unstar(session: Session, *, viewer: Viewer, kind: Kind, item_id: int) -> None:
    """Remove a star (nothing happens if there was none; a rating stays)."""
    clear(session, kind=kind, user_id=signed_in(viewer), item_id=item_id, column="starred_at")


@dataclass(frozen=True)
class ItemMarks:
    """One item's marks for the viewer, as a screen shows them beside the item."""

    id: int
    starred_at: datetime | None
    rating: int | None


def marks_of(session: Session, *, viewer: Viewer, kind: Kind, item_ids: list[int]) -> list[ItemMarks]:
    """The viewer's star and rating on each of `item_ids`, in the order asked (unmarked: both None).

    A screen listing tracks, releases or artists shows a heart and stars on each; one indexed read by
    primary key answers a whole screen instead of paging through the favourites."""
    if len(item_ids) > MAX_PAGE:
        raise InvalidInput(f"ask for at most {MAX_PAGE} items at a time")
    m = MARKS[kind]
    query = select(m.item_id, m.model.starred_at, m.model.rating).where(
        m.model.user_id == signed_in(viewer), one_of(session, m.item_id, sorted(set(item_ids)))
    )
    found = {item: (starred, rating) for item, starred, rating in session.execute(query)}
    return [ItemMarks(i, *found.get(i, (None, None))) for i in item_ids]


def list_favourites(
    session: Session,
    *,
    viewer: Viewer,
    kind: Kind,
    at: datetime,
    sort: str = "added",
    after: str | None = None,
    limit: int = 50,
) -> FavouritePage:
    """One page of the viewer's favourites of one kind."""
    user_id = signed_in(viewer)
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    m = MARKS[kind]
    title, artist = _names(kind)
    keys: list[ColumnElement[Any]] = {
        "added": [m.model.starred_at],
        "title": [func.lower(title)],
        "artist": [func.lower(func.coalesce(artist, "")), func.lower(title)],
    }[sort]
    inner = (
        select(*[k.label(f"k{i}") for i, k in enumerate(keys)], m.item_id.label("id"), title.label("title"))
        .add_columns(artist.label("artist"), m.model.starred_at, m.model.rating)
        .join(m.item, m.item.id == m.item_id)
        .where(m.model.user_id == user_id, m.model.starred_at.is_not(None))
        .subquery()
    )
    sort_cols = [inner.c[f"k{i}"] for i in range(len(keys))] + [inner.c.id]
    query = select(inner)
    if after is not None:
        values = _decode(after, kind, sort, len(sort_cols))
        types: list[Any] = [UTCDateTime()] if sort == "added" else [String()] * len(keys)
        bound = tuple_(*[literal(v, t) for v, t in zip(values, [*types, BigInteger()], strict=True)])
        query = query.where(tuple_(*sort_cols) < bound if sort == "added" else tuple_(*sort_cols) > bound)
    order = [c.desc() for c in sort_cols] if sort == "added" else sort_cols
    rows = session.execute(query.order_by(*order).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = _items(session, kind, rows, viewer, at)
    last = rows[-1] if rows else None
    cursor = (
        _encode(kind, sort, [getattr(last, f"k{i}") for i in range(len(keys))] + [last.id])
        if more and last
        else None
    )
    return FavouritePage(items, cursor)


def _names(kind: Kind) -> tuple[ColumnElement[str], ColumnElement[str | None]]:
    """The title and the (first) artist's name of an item of `kind`, as columns of its row."""
    if kind is Kind.track:
        first_artist = (
            select(Artist.name)
            .join(TrackArtist, TrackArtist.artist_id == Artist.id)
            .where(TrackArtist.track_id == Track.id)
            .order_by(TrackArtist.position)
            .limit(1)
            .scalar_subquery()
        )
        return Track.title, first_artist
    if kind is Kind.release:
        release_artist = select(Artist.name).where(Artist.id == Release.artist_id).scalar_subquery()
        return Release.title, release_artist
    return Artist.name, Artist.name


def _items(session: Session, kind: Kind, rows: list[Any], viewer: Viewer, at: datetime) -> list[Favourite]:
    ids = [r.id for r in rows]
    if kind is not Kind.track:
        artists = (lambda r: ()) if kind is Kind.artist else (lambda r: (r.artist,) if r.artist else ())
        art = (
            artwork.for_artists(session, artist_ids=ids)
            if kind is Kind.artist
            else artwork.for_releases(session, release_ids=ids)
        )
        return [
            Favourite(kind, r.id, r.title, artists(r), r.starred_at, r.rating, None, art.get(r.id))
            for r in rows
        ]
    info = track_info(session, track_ids=ids)
    playable = playable_ids(session, viewer=viewer, track_ids=ids, at=at)
    return [
        Favourite(kind, r.id, r.title, t.artists, r.starred_at, r.rating, r.id in playable, t.artwork)
        for r in rows
        for t in (info[r.id],)
    ]


def _encode(kind: Kind, sort: str, values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"k": kind.value, "s": sort, "v": plain}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, kind: Kind, sort: str, size: int) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = data["v"]
        ok = (
            data["k"] == kind.value and data["s"] == sort and isinstance(values, list) and len(values) == size
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        ok = False
    if not ok:
        raise InvalidInput(
            "after is not a cursor from this listing (same kind and sort): start from the first page"
        )
    try:
        if sort == "added":
            values[0] = datetime.fromisoformat(values[0])
        if not isinstance(values[-1], int) or not all(isinstance(v, str) for v in values[1:-1]):
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidInput("after is not a cursor from this listing: start from the first page") from None
    return values
