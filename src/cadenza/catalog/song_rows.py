"""Songs as a listing shows them (title, album, credits, year, MP3 size, loudness, ...), read in one
statement per batch and returned as plain rows, for the listings that send hundreds of songs at a time:
an OpenSubsonic client's full sync (`search3` with an empty query, 500 songs a page, 200 pages for
100,000 tracks), albums, playlists.

One statement: the page's tracks joined to their release, with the credits aggregated in SQL (the names
in credit order joined by ", ", and the first credited artist) and the MP3 download's size, each looked
up by index for the rows sent. Three statements before (songs, credits, sizes) and a frozen dataclass per
song cost a page more CPU than its rendering. The statements are built once per dialect and visibility
(building and keying a statement costs about as much as running it, `db.lists`); the visibility is
`catalog.visibility.track_condition`, asked at every call and compared with the one the cached statement
holds, so this module states no rule of its own.

A page continues after the id `after` when the caller knows where the previous page ended (keyset: an
index range, the same cost at any depth, see `catalog.page_cursors`), otherwise it skips `offset` rows,
choosing the page's ids first so that the skipped rows' credits and sizes are not looked up."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    String,
    bindparam,
    column,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session

from cadenza.catalog import visibility
from cadenza.catalog.models import Release, Track
from cadenza.catalog.visibility import Viewer
from cadenza.db.lists import dialect_of, in_list, list_value
from cadenza.errors import InvalidInput

MAX_PAGE = 500

# A row: (id, title, duration_sec, track_number, genre, release_id, release_title, release_date,
# play_count, created_at, artist_names, first_artist_id, mp3_size, loudness_lufs, true_peak_dbtp,
# album_loudness_lufs, album_true_peak_dbtp); artist_names is None for a track without credits.
SongRow = tuple[
    int, str, float | None, int | None, str | None, int | None, str | None, date | None, int | None,
    datetime, str | None, int | None, int | None, float | None, float | None, float | None, float | None,
]  # fmt: skip

# The credits, aggregated per track in the dialect's own words. PostgreSQL: one LATERAL subquery per
# track gives the names in credit order and the first credited artist. SQLite (3.40 has no ORDER BY
# inside an aggregate): an ordered subquery feeds group_concat, which SQLite reads in that order (it
# does not flatten an ordered subquery under an aggregate), and a second one picks the first artist.
_PG_CREDITS = (
    "SELECT string_agg(a.name, ', ' ORDER BY ta.position, ta.artist_id) AS artist_names,"
    " (array_agg(ta.artist_id ORDER BY ta.position, ta.artist_id))[1] AS first_artist_id"
    " FROM track_artists ta JOIN artists a ON a.id = ta.artist_id WHERE ta.track_id = tracks.id"
)
_SQLITE_NAMES = (
    "(SELECT group_concat(name, ', ') FROM (SELECT a.name AS name FROM track_artists ta"
    " JOIN artists a ON a.id = ta.artist_id WHERE ta.track_id = tracks.id"
    " ORDER BY ta.position, ta.artist_id))"
)
_SQLITE_FIRST_ARTIST = (
    "(SELECT ta.artist_id FROM track_artists ta WHERE ta.track_id = tracks.id"
    " ORDER BY ta.position, ta.artist_id LIMIT 1)"
)
_MP3_SIZE = (
    "(SELECT v.size_bytes FROM track_variants v WHERE v.track_id = tracks.id AND v.quality = 'mp3_320')"
)


def _rows_from(dialect: str, tracks: FromClause) -> Select[Any]:
    """The row's columns read from `tracks` (the tracks table, or a join that holds it) with its
    release and credits."""
    if dialect == "postgresql":
        credits = (
            text(_PG_CREDITS)
            .columns(column("artist_names", String), column("first_artist_id", BigInteger))
            .lateral("credits")
        )
        tracks = tracks.outerjoin(credits, true())
        names, first = credits.c.artist_names, credits.c.first_artist_id
    else:
        names, first = literal_column(_SQLITE_NAMES), literal_column(_SQLITE_FIRST_ARTIST)
    return select(
        Track.id, Track.title, Track.duration_sec, Track.track_number, Track.genre, Track.release_id,
        Release.title, Release.release_date, Track.play_count, Track.created_at, names, first,
        literal_column(_MP3_SIZE), Track.loudness_lufs, Track.true_peak_dbtp, Release.loudness_lufs,
        Release.true_peak_dbtp,
    ).select_from(tracks.outerjoin(Release, Release.id == Track.release_id))  # fmt: skip


def _after_statement(dialect: str, visible: ColumnElement[bool]) -> Select[Any]:
    """A page after a known id: the index range read in order, each row's credits and size looked up
    as it is read, until the page is full."""
    return (
        _rows_from(dialect, Track.__table__)
        .where(visible, Track.id > bindparam("after"))
        .order_by(Track.id)
        .limit(bindparam("size"))
    )


def _offset_statement(dialect: str, visible: ColumnElement[bool]) -> Select[Any]:
    """A page at an offset: its ids chosen first, so the skipped rows' credits are not looked up."""
    ids = (
        select(Track.id)
        .where(visible)
        .order_by(Track.id)
        .offset(bindparam("offset"))
        .limit(bindparam("size"))
        .subquery("page")
    )
    tracks = ids.join(Track.__table__, Track.id == ids.c.id)
    return _rows_from(dialect, tracks).order_by(Track.id)


def _ids_statement(dialect: str, visible: ColumnElement[bool]) -> Select[Any]:
    return _rows_from(dialect, Track.__table__).where(in_list(dialect, Track.id), visible)


_MAKERS = {"after": _after_statement, "offset": _offset_statement, "ids": _ids_statement}
_BUILT: dict[tuple[str, str, bool], tuple[ColumnElement[bool], Select[Any]]] = {}
_LOCK = threading.Lock()


def built_once(
    kind: str,
    dialect: str,
    viewer: Viewer,
    visible: ColumnElement[bool],
    make: Callable[[str, ColumnElement[bool]], Select[Any]],
) -> Select[Any]:
    """The statement `make(dialect, visible)`, built once per kind, dialect and role: `visible` (the
    condition `catalog.visibility` gives for this viewer now) is compared with the one the cached
    statement was built with, so a rule that came to depend on more than the viewer's role would
    rebuild the statement rather than be bypassed."""
    key = (kind, dialect, viewer.is_admin)
    built = _BUILT.get(key)
    if built is None or not built[0].compare(visible):
        built = (visible, make(dialect, visible))
        with _LOCK:
            _BUILT[key] = built
    return built[1]


def _statement(kind: str, dialect: str, viewer: Viewer) -> Select[Any]:
    return built_once(f"song {kind}", dialect, viewer, visibility.track_condition(viewer), _MAKERS[kind])


def page(
    session: Session, *, viewer: Viewer, size: int, offset: int = 0, after: int | None = None
) -> list[SongRow]:
    """One page of the songs the viewer may see, in id order: after the id `after` when given (keyset),
    else from `offset`."""
    if not 0 <= size <= MAX_PAGE:
        raise InvalidInput(f"size must be between 0 and {MAX_PAGE}")
    if size == 0:
        return []
    if after is not None:
        stmt, params = _statement("after", dialect_of(session), viewer), {"after": after, "size": size}
    else:
        stmt, params = _statement("offset", dialect_of(session), viewer), {"offset": offset, "size": size}
    return session.connection().execute(stmt, params).all()  # type: ignore[return-value] (fetchall: a row at a time costs 3 us each)


def of_ids(session: Session, *, viewer: Viewer, track_ids: Sequence[int]) -> list[SongRow]:
    """The rows of those of `track_ids` the viewer may see, in the order asked (each once)."""
    wanted = list(dict.fromkeys(track_ids))
    if not wanted:
        return []
    dialect = dialect_of(session)
    rows = session.connection().execute(
        _statement("ids", dialect, viewer), {"ids": list_value(dialect, wanted)}
    )
    found = {r[0]: r for r in rows.all()}
    return [found[i] for i in wanted if i in found]  # type: ignore[misc]
