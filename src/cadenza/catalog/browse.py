"""Catalog reads for clients that browse by artist and album (the OpenSubsonic surface): the facts of a
batch of tracks, releases and artists as a listing shows them, and ordered pages of releases. Every read
applies `catalog.visibility`, so this module states no rule of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Row, Select, Subquery, and_, func, select
from sqlalchemy.orm import Session

from cadenza.catalog import visibility
from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackVariant
from cadenza.catalog.visibility import Viewer
from cadenza.db.lists import one_of
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


class ReleaseFacts(NamedTuple):
    """A release as an album listing shows it (a tuple: a sync page builds 500 of these, and a frozen
    dataclass's constructor cost as much as reading the rows)."""

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


# The release columns of `ReleaseFacts`, then `release_stats`' four: the order `release_facts` reads.
RELEASE_COLUMNS = (
    Release.id, Release.title, Release.artist_id, Artist.name, Release.release_date, Release.created_at,
)  # fmt: skip


def release_stats(tracks: ColumnElement[bool], name: str = "stats") -> Subquery:
    """Per release, over the tracks `tracks` selects: how many (n), their length (d), plays (p) and a
    genre (g)."""
    return (
        select(
            Track.release_id,
            func.count(Track.id).label("n"),
            func.coalesce(func.sum(Track.duration_sec), 0.0).label("d"),
            func.coalesce(func.sum(Track.play_count), 0).label("p"),
            func.max(Track.genre).label("g"),
        )
        .where(tracks)
        .group_by(Track.release_id)
        .subquery(name)
    )


# The same four facts as the database keeps them for a listener: over the release's listed tracks
# (`Release.listed_*`, migration 0015).
LISTED_STATS = (Release.listed_tracks, Release.listed_seconds, Release.listed_plays, Release.listed_genre)


def counts_listed_tracks(viewer: Viewer) -> bool:
    """Whether the tracks `viewer` may see are the listed ones, whose facts each release stores; when
    not (an administrator, or a rule that came to depend on more than the role), they are aggregated."""
    return bool(visibility.track_condition(viewer).compare(visibility.listable_track()))


def release_facts_query(
    viewer: Viewer, *, tracks: ColumnElement[bool], releases: ColumnElement[bool]
) -> Select[Any]:
    """`RELEASE_COLUMNS` then the count, length, plays and genre of the tracks the viewer may see, for the
    releases `releases` selects that the viewer may see: read from the release's stored facts when those
    are the viewer's (`counts_listed_tracks`), else aggregated over the tracks `tracks` selects (a
    condition that narrows them to the releases wanted) that the viewer may see."""
    if counts_listed_tracks(viewer):
        query = select(*RELEASE_COLUMNS, *LISTED_STATS)
    else:
        stats = release_stats(and_(tracks, visibility.track_condition(viewer)))
        query = select(*RELEASE_COLUMNS, stats.c.n, stats.c.d, stats.c.p, stats.c.g).join(
            stats, stats.c.release_id == Release.id
        )
    return query.outerjoin(Artist, Artist.id == Release.artist_id).where(
        visibility.release_condition(viewer), releases
    )


def release_facts(row: Row[Any] | tuple[Any, ...]) -> ReleaseFacts:
    """A row of `RELEASE_COLUMNS` then `release_stats`' n, d, p, g."""
    i, title, artist_id, name, day, created, n, d, p, g = row
    return ReleaseFacts(i, title, artist_id, name, day, created, int(n), float(d), int(p), g)


@dataclass(frozen=True)
class ArtistFacts:
    id: int
    name: str
    album_count: int


_SONG_COLUMNS = (
    Track.id, Track.title, Track.duration_sec, Track.track_number, Track.genre, Track.release_id,
    Release.title, Release.release_date, Track.play_count, Track.created_at, Track.loudness_lufs,
    Track.true_peak_dbtp, Release.loudness_lufs, Release.true_peak_dbtp,
)  # fmt: skip


def songs(session: Session, *, viewer: Viewer, track_ids: Sequence[int]) -> list[SongFacts]:
    """The facts of those of `track_ids` the viewer may see, in the order asked."""
    ids = list(dict.fromkeys(track_ids))
    if not ids:
        return []
    found = {f.id: f for f in _song_facts(session, viewer, one_of(session, Track.id, ids))}
    return [found[i] for i in ids if i in found]


def _song_facts(session: Session, viewer: Viewer, which: Any) -> list[SongFacts]:
    """Song facts read as plain columns (no ORM entities: a page of 500 costs a fraction of the CPU).
    Listings that send hundreds of songs read `catalog.song_rows` instead (one statement, no objects)."""
    query = (
        select(*_SONG_COLUMNS)
        .outerjoin(Release, Release.id == Track.release_id)
        .where(visibility.track_condition(viewer), which)
    )
    rows = session.execute(query).all()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    artists: dict[int, list[tuple[int, str]]] = {}
    for tid, aid, name in session.execute(
        select(TrackArtist.track_id, Artist.id, Artist.name)
        .join(Artist, Artist.id == TrackArtist.artist_id)
        .where(one_of(session, TrackArtist.track_id, ids))
        .order_by(TrackArtist.track_id, TrackArtist.position)
    ):
        artists.setdefault(tid, []).append((aid, name))
    sizes = dict(
        session.execute(
            select(TrackVariant.track_id, TrackVariant.size_bytes).where(
                one_of(session, TrackVariant.track_id, ids), TrackVariant.quality == "mp3_320"
            )
        ).all()
    )
    return [
        SongFacts(
            tid, title, duration or 0.0, number, genre, release_id, release_title, day,
            tuple(artists.get(tid, ())), plays or 0, created, sizes.get(tid), lufs, peak, album_lufs,
            album_peak,
        )
        for (tid, title, duration, number, genre, release_id, release_title, day, plays, created, lufs,
             peak, album_lufs, album_peak) in rows
    ]  # fmt: skip


def releases(session: Session, *, viewer: Viewer, release_ids: Sequence[int]) -> list[ReleaseFacts]:
    """The facts of those of `release_ids` the viewer may see, in the order asked; counts and duration
    are over the tracks the viewer may see."""
    ids = list(dict.fromkeys(release_ids))
    if not ids:
        return []
    query = release_facts_query(
        viewer, tracks=one_of(session, Track.release_id, ids), releases=one_of(session, Release.id, ids)
    )
    rows = session.execute(query).all()  # plain columns, no ORM entities (a sync page asks for 500)
    found = {row[0]: release_facts(row) for row in rows}
    return [found[i] for i in ids if i in found]


def artists(
    session: Session,
    *,
    viewer: Viewer,
    artist_ids: Sequence[int] | None = None,
    by_id_page: tuple[int, int] | None = None,
    after: int | None = None,
) -> list[ArtistFacts]:
    """Artists the viewer may see (all of them, or those of `artist_ids`, or one page `(offset, size)` in
    id order, continuing after the id `after` when given: keyset paging), by name, with the number of
    their releases the viewer may see."""
    if by_id_page is not None:
        return _artist_page(session, viewer=viewer, offset=by_id_page[0], size=by_id_page[1], after=after)
    if artist_ids is not None and not artist_ids:
        return []
    albums = select(Release.artist_id, func.count(Release.id).label("n")).where(
        visibility.release_condition(viewer)
    )
    if artist_ids is not None:
        albums = albums.where(one_of(session, Release.artist_id, artist_ids))
    counts = albums.group_by(Release.artist_id).subquery()
    query = (
        select(Artist.id, Artist.name, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.artist_id == Artist.id)
        .where(visibility.artist_condition(viewer))
    )
    if artist_ids is not None:
        query = query.where(one_of(session, Artist.id, artist_ids))
    return [
        ArtistFacts(i, n, int(c))
        for i, n, c in session.execute(query.order_by(func.lower(Artist.name), Artist.id))
    ]


def _artist_page(
    session: Session, *, viewer: Viewer, offset: int, size: int, after: int | None
) -> list[ArtistFacts]:
    """`artists` for one page in id order, in one statement: the page's ids chosen in a CTE (whose
    condition is the visibility of artists, so it is not checked a second time) and their releases
    counted through `ix_releases_artist_id`, rather than the ids read then bound back as arrays."""
    page = select(Artist.id).where(visibility.artist_condition(viewer)).order_by(Artist.id)
    page = page.where(Artist.id > after) if after is not None else page.offset(offset)
    ids = page.limit(size).cte("page")
    lo, hi = select(func.min(ids.c.id)).scalar_subquery(), select(func.max(ids.c.id)).scalar_subquery()
    counts = (
        select(Release.artist_id, func.count(Release.id).label("n"))
        .where(
            Release.artist_id.between(lo, hi),  # one range of ix_releases_artist_id, not every release
            Release.artist_id.in_(select(ids.c.id)),
            visibility.release_condition(viewer),
        )
        .group_by(Release.artist_id)
        .subquery("counts")
    )
    query = (
        select(Artist.id, Artist.name, func.coalesce(counts.c.n, 0))
        .select_from(ids)
        .join(Artist, Artist.id == ids.c.id)
        .outerjoin(counts, counts.c.artist_id == ids.c.id)
        .order_by(func.lower(Artist.name), Artist.id)
    )
    return [ArtistFacts(i, n, int(c)) for i, n, c in session.execute(query)]


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
    after: int | None = None,
) -> list[int]:
    """Release ids the viewer may see, in `order`, one page (for `byId`, continuing after the id `after`
    when given: keyset paging, the same cost at any depth)."""
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
        if after is not None:
            query, offset = query.where(Release.id > after), 0
    elif order == "newest":
        query = query.order_by(Release.created_at.desc(), Release.id.desc())
    elif order == "frequent":  # the plays of the listed tracks, as each release keeps them
        query = query.order_by(Release.listed_plays.desc(), Release.id)
    elif order == "byYear":
        lo, hi = from_year or 0, to_year or 9999
        year = func.extract("year", Release.release_date)
        query = query.where(year.between(min(lo, hi), max(lo, hi)))
        query = query.order_by(Release.release_date.desc() if lo > hi else Release.release_date, Release.id)
    elif order == "random":  # a fresh sample each call (an offset means nothing here)
        return list(session.scalars(query.order_by(func.random()).limit(size)))
    if genre:  # from the genre's tracks (`ix_tracks_genre_release_id`), not a probe of every release
        query = query.where(
            Release.id.in_(
                select(Track.release_id).where(
                    Track.genre == genre, Track.release_id.is_not(None), visibility.track_condition(viewer)
                )
            )
        )
    return list(session.scalars(query.offset(offset).limit(size)))


def track_page(
    session: Session, *, viewer: Viewer, size: int, offset: int, after: int | None = None
) -> list[int]:
    """Track ids the viewer may see, in id order, one page (a client's full sync pages through these:
    the primary key's order needs no sort). With `after`, the page continues after that id (keyset
    paging: an index range, the same cost at any depth) and `offset` is not used; an OFFSET walks
    every row before it."""
    if not 0 <= size <= MAX_PAGE:
        raise InvalidInput(f"size must be between 0 and {MAX_PAGE}")
    if size == 0:
        return []
    query = select(Track.id).where(visibility.track_condition(viewer)).order_by(Track.id)
    query = query.where(Track.id > after) if after is not None else query.offset(offset)
    return list(session.scalars(query.limit(size)))


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


def artist_ids_named(session: Session, *, viewer: Viewer, name: str) -> list[int]:
    """Artists the viewer may see whose name is `name`, ignoring case (Subsonic's getTopSongs names an
    artist rather than giving its id)."""
    query = select(Artist.id).where(
        func.lower(Artist.name) == name.lower(), visibility.artist_condition(viewer)
    )
    return list(session.scalars(query.order_by(Artist.id).limit(10)))


def top_track_ids(
    session: Session, *, viewer: Viewer, artist_ids: Sequence[int], size: int, exclude: Sequence[int] = ()
) -> list[int]:
    """The viewer-visible tracks credited to any of `artist_ids`, most played first."""
    if not artist_ids:
        return []
    query = (
        select(Track.id)
        .join(TrackArtist, TrackArtist.track_id == Track.id)
        .where(TrackArtist.artist_id.in_(list(artist_ids)), visibility.track_condition(viewer))
        .group_by(Track.id, Track.play_count)
    )
    if exclude:
        query = query.where(Track.id.not_in(list(exclude)))
    return list(session.scalars(query.order_by(Track.play_count.desc(), Track.id).limit(size)))


def track_count(session: Session, *, viewer: Viewer) -> int:
    """How many tracks the viewer may see listed (Subsonic's scan status count)."""
    return int(session.scalar(select(func.count(Track.id)).where(visibility.track_condition(viewer))) or 0)
