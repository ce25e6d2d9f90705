"""Catalog reads for clients that browse by artist and album (the OpenSubsonic surface): the facts of a
batch of tracks, releases and artists as a listing shows them, and ordered pages of releases. Every read
applies `catalog.visibility`, so this module states no rule of its own."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.catalog import visibility
from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackVariant
from cadenza.catalog.visibility import Viewer
from cadenza.errors import InvalidInput

MAX_PAGE = 500


@dataclass(frozen=True)
class SongFacts:
    id: int
    title: str
    duration_sec: float
    track_number: int | None
    genre: str | None
    release_id: int | None
    release_title: str | None
    release_date: date | None
    artists: tuple[tuple[int, str], ...]  # (id, name) in credit order
    play_count: int
    created_at: datetime
    mp3_size: int | None
    loudness_lufs: float | None = None  # EBU R128 integrated loudness of the track
    true_peak_dbtp: float | None = None
    album_loudness_lufs: float | None = None  # of the whole release (ReplayGain 2.0 album)
    album_true_peak_dbtp: float | None = None


@dataclass(frozen=True)
class ReleaseFacts:
    id: int
    title: str
    artist_id: int | None
    artist_name: str | None
    release_date: date | None
    created_at: datetime
    song_count: int
    duration_sec: float
    play_count: int
    genre: str | None


@dataclass(frozen=True)
class ArtistFacts:
    id: int
    name: str
    album_count: int


def songs(session: Session, *, viewer: Viewer, track_ids: Sequence[int]) -> list[SongFacts]:
    """The facts of those of `track_ids` the viewer may see, in the order asked."""
    ids = list(dict.fromkeys(track_ids))
    if not ids:
        return []
    rows = session.execute(
        select(Track, Release.title, Release.release_date, Release.loudness_lufs, Release.true_peak_dbtp)
        .outerjoin(Release, Release.id == Track.release_id)
        .where(Track.id.in_(ids), visibility.track_condition(viewer))
    ).all()
    artists: dict[int, list[tuple[int, str]]] = {}
    for tid, aid, name in session.execute(
        select(TrackArtist.track_id, Artist.id, Artist.name)
        .join(Artist, Artist.id == TrackArtist.artist_id)
        .where(TrackArtist.track_id.in_(ids))
        .order_by(TrackArtist.track_id, TrackArtist.position)
    ):
        artists.setdefault(tid, []).append((aid, name))
    sizes = dict(
        session.execute(
            select(TrackVariant.track_id, TrackVariant.size_bytes).where(
                TrackVariant.track_id.in_(ids), TrackVariant.quality == "mp3_320"
            )
        ).all()
    )
    found = {
        t.id: SongFacts(
            t.id, t.title, t.duration_sec or 0.0, t.track_number, t.genre, t.release_id, title, day,
            tuple(artists.get(t.id, ())), t.play_count, t.created_at, sizes.get(t.id),
            t.loudness_lufs, t.true_peak_dbtp, album_lufs, album_peak,
        )
        for t, title, day, album_lufs, album_peak in rows
    }  # fmt: skip
    return [found[i] for i in ids if i in found]


def releases(session: Session, *, viewer: Viewer, release_ids: Sequence[int]) -> list[ReleaseFacts]:
    """The facts of those of `release_ids` the viewer may see, in the order asked; counts and duration
    are over the tracks the viewer may see."""
    ids = list(dict.fromkeys(release_ids))
    if not ids:
        return []
    stats = (
        select(
            Track.release_id,
            func.count(Track.id).label("n"),
            func.coalesce(func.sum(Track.duration_sec), 0.0).label("d"),
            func.coalesce(func.sum(Track.play_count), 0).label("p"),
            func.max(Track.genre).label("g"),
        )
        .where(Track.release_id.in_(ids), visibility.track_condition(viewer))
        .group_by(Track.release_id)
        .subquery()
    )
    rows = session.execute(
        select(Release, Artist.name, stats.c.n, stats.c.d, stats.c.p, stats.c.g)
        .join(stats, stats.c.release_id == Release.id)
        .outerjoin(Artist, Artist.id == Release.artist_id)
    ).all()
    found = {
        r.id: ReleaseFacts(
            r.id, r.title, r.artist_id, name, r.release_date, r.created_at, int(n), float(d), int(p), g
        )
        for r, name, n, d, p, g in rows
    }
    return [found[i] for i in ids if i in found]


def artists(
    session: Session,
    *,
    viewer: Viewer,
    artist_ids: Sequence[int] | None = None,
    by_id_page: tuple[int, int] | None = None,
) -> list[ArtistFacts]:
    """Artists the viewer may see (all of them, or those of `artist_ids`, or one page `(offset, size)` in
    id order), by name, with the number of their releases the viewer may see."""
    albums = (
        select(Release.artist_id, func.count(Release.id).label("n"))
        .where(visibility.release_condition(viewer))
        .group_by(Release.artist_id)
        .subquery()
    )
    query = (
        select(Artist.id, Artist.name, func.coalesce(albums.c.n, 0))
        .outerjoin(albums, albums.c.artist_id == Artist.id)
        .where(visibility.artist_condition(viewer))
    )
    if artist_ids is not None:
        query = query.where(Artist.id.in_(list(artist_ids)))
    if by_id_page is not None:
        offset, size = by_id_page
        page = select(Artist.id).where(visibility.artist_condition(viewer)).order_by(Artist.id)
        query = query.where(Artist.id.in_(page.offset(offset).limit(size).scalar_subquery()))
    return [
        ArtistFacts(i, n, int(c))
        for i, n, c in session.execute(query.order_by(func.lower(Artist.name), Artist.id))
    ]


def release_ids_of_artist(session: Session, *, viewer: Viewer, artist_id: int) -> list[int]:
    query = select(Release.id).where(Release.artist_id == artist_id, visibility.release_condition(viewer))
    return list(session.scalars(query.order_by(Release.release_date.nulls_last(), Release.id)))


def track_ids_of_release(session: Session, *, viewer: Viewer, release_id: int) -> list[int]:
    query = select(Track.id).where(Track.release_id == release_id, visibility.track_condition(viewer))
    return list(session.scalars(query.order_by(Track.track_number, Track.id).limit(MAX_PAGE)))


ORDERS = ("newest", "alphabeticalByName", "alphabeticalByArtist", "random", "frequent", "byYear", "byId")


def release_page(
    session: Session,
    *,
    viewer: Viewer,
    order: str,
    size: int,
    offset: int,
    from_year: int | None = None,
    to_year: int | None = None,
    genre: str | None = None,
) -> list[int]:
    """Release ids the viewer may see, in `order`, one page."""
    if order not in ORDERS:
        raise InvalidInput(f"type must be one of {', '.join(ORDERS)}")
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"size must be between 1 and {MAX_PAGE}")
    query = select(Release.id).where(visibility.release_condition(viewer))
    if order == "alphabeticalByArtist":
        query = query.outerjoin(Artist, Artist.id == Release.artist_id)
        query = query.order_by(
            func.lower(func.coalesce(Artist.name, "")), func.lower(Release.title), Release.id
        )
    elif order == "alphabeticalByName":
        query = query.order_by(func.lower(Release.title), Release.id)
    elif order == "byId":  # the primary key's order: a client syncing everything pages cheaply
        query = query.order_by(Release.id)
    elif order == "newest":
        query = query.order_by(Release.created_at.desc(), Release.id.desc())
    elif order == "frequent":
        plays = (
            select(func.coalesce(func.sum(Track.play_count), 0))
            .where(Track.release_id == Release.id)
            .scalar_subquery()
        )
        query = query.order_by(plays.desc(), Release.id)
    elif order == "byYear":
        lo, hi = from_year or 0, to_year or 9999
        year = func.extract("year", Release.release_date)
        query = query.where(year.between(min(lo, hi), max(lo, hi)))
        query = query.order_by(Release.release_date.desc() if lo > hi else Release.release_date, Release.id)
    elif order == "random":
        ids = list(session.scalars(query))
        return random.sample(ids, min(size, len(ids)))
    if genre:
        query = query.where(
            select(Track.id).where(Track.release_id == Release.id, Track.genre == genre).exists()
        )
    return list(session.scalars(query.offset(offset).limit(size)))


def track_page(session: Session, *, viewer: Viewer, size: int, offset: int) -> list[int]:
    """Track ids the viewer may see, in id order, one page (a client's full sync pages through these:
    the primary key's order needs no sort)."""
    if not 0 <= size <= MAX_PAGE:
        raise InvalidInput(f"size must be between 0 and {MAX_PAGE}")
    query = select(Track.id).where(visibility.track_condition(viewer))
    return list(session.scalars(query.order_by(Track.id).offset(offset).limit(size)))


@dataclass(frozen=True)
class GenreFacts:
    name: str
    song_count: int
    album_count: int


def genres(session: Session, *, viewer: Viewer) -> list[GenreFacts]:
    """Genres of the tracks the viewer may see, with their track and release counts, by name."""
    rows = session.execute(
        select(Track.genre, func.count(Track.id), func.count(func.distinct(Track.release_id)))
        .where(Track.genre.is_not(None), visibility.track_condition(viewer))
        .group_by(Track.genre)
        .order_by(Track.genre)
    )
    return [GenreFacts(g, int(n), int(a)) for g, n, a in rows]


def track_ids_by(
    session: Session,
    *,
    viewer: Viewer,
    size: int,
    offset: int = 0,
    genre: str | None = None,
    from_year: int | None = None,
    to_year: int | None = None,
    shuffled: bool = False,
) -> list[int]:
    """Track ids the viewer may see, of a genre and release years if given: by title, or a random
    sample of `size`."""
    if not 1 <= size <= MAX_PAGE:
        raise InvalidInput(f"size must be between 1 and {MAX_PAGE}")
    query = select(Track.id).where(visibility.track_condition(viewer))
    if genre is not None:
        query = query.where(Track.genre == genre)
    if from_year is not None or to_year is not None:
        year = func.extract("year", Release.release_date)
        query = query.join(Release, Release.id == Track.release_id).where(
            year.between(from_year or 0, to_year or 9999)
        )
    if shuffled:
        return list(session.scalars(query.order_by(func.random()).limit(size)))
    return list(session.scalars(query.order_by(func.lower(Track.title), Track.id).offset(offset).limit(size)))
