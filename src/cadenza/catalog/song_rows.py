"""Songs as a listing shows them (title, album, credits, year, MP3 size, loudness, ...), read in one
statement per batch and returned as plain rows, for the listings that send hundreds of songs at a time:
an OpenSubsonic client's full sync (`search3` with an empty query, 500 songs a page, 200 pages for
100,000 tracks), albums, playlists.

One statement: the page's tracks joined to their release, with the credits aggregated in SQL (the names
in credit order joined by ", ", and the first credited artist) and the MP3 download's size as scalar
subqueries by primary key. Three statements before (songs, credits, sizes) and a frozen dataclass per
song cost a page more CPU than its rendering. The statements are built once per dialect and visibility
(building and keying a statement costs about as much as running it, `db.lists`); the visibility is
`catalog.visibility.track_condition`, asked at every call and compared with the one the cached statement
holds, so this module states no rule of its own.

A page continues after the id `after` when the caller knows where the previous page ended (keyset: an
index range, the same cost at any depth, see `catalog.page_cursors`), otherwise it skips `offset` rows;
either way the page's ids are chosen first, in a subquery, so the credits and sizes are looked up for the
rows sent only (an OFFSET's skipped rows would otherwise be looked up too)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, literal_column, select
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

# The credits, aggregated per track in the dialect's own words (SQLite 3.40 has no ORDER BY inside an
# aggregate: an ordered subquery feeds group_concat, which SQLite then reads in that order, since it does
# not flatten an ordered subquery under an aggregate).
_NAMES = {
    "postgresql": "(SELECT string_agg(a.name, ', ' ORDER BY ta.position, ta.artist_id) FROM track_artists ta"
    " JOIN artists a ON a.id = ta.artist_id WHERE ta.track_id = tracks.id)",
    "sqlite": "(SELECT group_concat(name, ', ') FROM (SELECT a.name AS name FROM track_artists ta"
    " JOIN artists a ON a.id = ta.artist_id WHERE ta.track_id = tracks.id"
    " ORDER BY ta.position, ta.artist_id))",
}
_FIRST_ARTIST = (
    "(SELECT ta.artist_id FROM track_artists ta WHERE ta.track_id = tracks.id"
    " ORDER BY ta.position, ta.artist_id LIMIT 1)"
)
_MP3_SIZE = (
    "(SELECT v.size_bytes FROM track_variants v WHERE v.track_id = tracks.id AND v.quality = 'mp3_320')"
)


def _columns(dialect: str) -> tuple[Any, ...]:
    return (
        Track.id, Track.title, Track.duration_sec, Track.track_number, Track.genre, Track.release_id,
        Release.title, Release.release_date, Track.play_count, Track.created_at,
        literal_column(_NAMES[dialect]), literal_column(_FIRST_ARTIST), literal_column(_MP3_SIZE),
        Track.loudness_lufs, Track.true_peak_dbtp, Release.loudness_lufs, Release.true_peak_dbtp,
    )  # fmt: skip


def _page_statement(dialect: str, visible: ColumnElement[bool]) -> Select[Any]:
    ids = (
        select(Track.id)
        .where(visible, Track.id > bindparam("after"))
        .order_by(Track.id)
        .offset(bindparam("offset"))
        .limit(bindparam("size"))
        .subquery("page")
    )
    return (
        select(*_columns(dialect))
        .select_from(ids)
        .join(Track, Track.id == ids.c.id)
        .outerjoin(Release, Release.id == Track.release_id)
        .order_by(Track.id)
    )


def _ids_statement(dialect: str, visible: ColumnElement[bool]) -> Select[Any]:
    return (
        select(*_columns(dialect))
        .outerjoin(Release, Release.id == Track.release_id)
        .where(in_list(dialect, Track.id), visible)
    )


_BUILT: dict[tuple[str, str, bool], tuple[ColumnElement[bool], Select[Any]]] = {}
_LOCK = threading.Lock()


def _statement(kind: str, dialect: str, viewer: Viewer) -> Select[Any]:
    """The statement of `kind` ("page" or "ids") for the viewer's visibility, built once: the condition
    `catalog.visibility` gives now is compared with the one the cached statement was built with, so a
    rule that came to depend on more than the viewer's role would rebuild it rather than be bypassed."""
    visible = visibility.track_condition(viewer)
    key = (kind, dialect, viewer.is_admin)
    built = _BUILT.get(key)
    if built is None or not built[0].compare(visible):
        make = _page_statement if kind == "page" else _ids_statement
        built = (visible, make(dialect, visible))
        with _LOCK:
            _BUILT[key] = built
    return built[1]


def page(
    session: Session, *, viewer: Viewer, size: int, offset: int = 0, after: int | None = None
) -> list[SongRow]:
    """One page of the songs the viewer may see, in id order: after the id `after` when given (keyset),
    else from `offset`."""
    if not 0 <= size <= MAX_PAGE:
        raise InvalidInput(f"size must be between 0 and {MAX_PAGE}")
    if size == 0:
        return []
    params = {"after": after or 0, "offset": 0 if after is not None else offset, "size": size}
    stmt = _statement("page", dialect_of(session), viewer)
    return list(session.connection().execute(stmt, params))  # type: ignore[arg-type]


def of_ids(session: Session, *, viewer: Viewer, track_ids: Sequence[int]) -> list[SongRow]:
    """The rows of those of `track_ids` the viewer may see, in the order asked (each once)."""
    wanted = list(dict.fromkeys(track_ids))
    if not wanted:
        return []
    dialect = dialect_of(session)
    rows = session.connection().execute(
        _statement("ids", dialect, viewer), {"ids": list_value(dialect, wanted)}
    )
    found = {r[0]: r for r in rows}
    return [found[i] for i in wanted if i in found]  # type: ignore[misc]
