"""A playlist's entries: add (many at once, anywhere), remove, move, and read a page with availability.

Order: gapped positions (`positions.py`), so a move writes the moved entry's row and the playlist's, and
reading a page is one range of the (playlist_id, position) index from the last entry seen (keyset paging;
no OFFSET, whose cost grows with the depth of the page).

Concurrency: two devices editing one playlist at the same time must never lose an entry. Every change
starts by locking the playlist's row (`playlists.for_change`: FOR NO KEY UPDATE on PostgreSQL; on SQLite
the writing transaction holds the database's write lock from BEGIN IMMEDIATE), so the changes to one
playlist run one after another, each reading the positions the previous one committed. That is what makes
"midpoint of the neighbours", "after the last entry", a respace, the entry limit and the totals correct:
each is a read followed by a write, and no other change can slip between them. The alternative, no lock
and a retry whenever the unique (playlist_id, position) index refuses a clash, fails to see the other
races (two adds both under the limit, totals updated from stale values, a move into a window being
respaced) and on PostgreSQL aborts the whole transaction at the first clash. The lock costs nothing
extra: every change writes the playlist row anyway (version, totals). The unique index stays as a guard.

Totals (`track_count`, `duration_ms`) live on the playlist row and change in the same transaction as the
entries, so a page reports them without counting 10,000 rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    DateTime,
    Dialect,
    Integer,
    ScalarSelect,
    Select,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from cadenza.catalog.artwork import ref_from_row, track_artwork_id
from cadenza.catalog.models import Artist, Artwork, Release, Track, TrackArtist, TrackStatus
from cadenza.catalog.visibility import Viewer, listable_track, playable_condition, playable_params
from cadenza.db.base import UTCDateTime, utcnow
from cadenza.db.lists import dialect_of, in_list, list_value, one_of
from cadenza.errors import InvalidInput, NotFound
from cadenza.library import positions
from cadenza.library.limits import MAX_BATCH, MAX_ENTRIES, MAX_PAGE
from cadenza.library.models import Playlist, PlaylistEntry
from cadenza.library.playlists import changed, for_change, locked_row, may_read, signed_in
from cadenza.library.tracks import TrackInfo, duration_ms

E = PlaylistEntry
_NO_SYNC = {"synchronize_session": False}


@dataclass(frozen=True)
class EntryView:
    entry_id: int
    track_id: int | None  # None: the track was deleted from the catalog
    track: TrackInfo | None
    added_at: datetime
    available: bool  # the viewer may play it now, in their territory


@dataclass(frozen=True)
class EntryPage:
    playlist: Playlist
    entries: list[EntryView]
    next_after: int | None  # the entry id to read the next page after; None on the last page


@dataclass(frozen=True)
class Added:
    entry_ids: list[int]
    playlist: Playlist


def add_tracks(
    session: Session,
    *,
    playlist_id: int,
    viewer: Viewer,
    track_ids: Sequence[int],
    index: int | None = None,
    max_entries: int = MAX_ENTRIES,
) -> Added:
    """Add tracks (repeats allowed) in the given order, starting at `index` (0: first; None: at the end).

    Every track must be listable (ready and published): one still processing or failed cannot be added; a
    listable one the viewer cannot play now (taken down, rights expired here) can, and shows unavailable."""
    if not 1 <= len(track_ids) <= MAX_BATCH:
        raise InvalidInput(f"add between 1 and {MAX_BATCH} tracks at a time (got {len(track_ids)})")
    playlist = for_change(session, playlist_id=playlist_id, viewer=viewer)
    if playlist.track_count + len(track_ids) > max_entries:
        raise InvalidInput(
            f"a playlist holds at most {max_entries:,} entries: this one has {playlist.track_count:,}, "
            f"and {len(track_ids):,} more do not fit"
        )
    durations = _addable(session, track_ids, viewer)
    if index is None:
        lo, hi = session.scalar(select(func.max(E.position)).where(E.playlist_id == playlist.id)), None
    else:
        lo, hi = _neighbours_at(session, playlist, index, moving=None)
    new_positions = _room(session, playlist.id, lo, hi, len(track_ids))
    now = utcnow()
    rows = [
        {
            "playlist_id": playlist.id,
            "track_id": t,
            "position": p,
            "duration_ms": durations[t],
            "added_at": now,
        }
        for t, p in zip(track_ids, new_positions, strict=True)
    ]
    ids = list(session.scalars(insert(E).returning(E.id, sort_by_parameter_order=True), rows))
    playlist.track_count += len(rows)
    playlist.duration_ms += sum(r["duration_ms"] for r in rows)
    changed(playlist)
    session.flush()
    return Added(ids, playlist)


def remove_entries(
    session: Session, *, playlist_id: int, viewer: Viewer, entry_ids: Sequence[int]
) -> Playlist:
    """Remove entries by their ids (not by track: a track listed twice keeps its other entry)."""
    if not 1 <= len(entry_ids) <= MAX_BATCH:
        raise InvalidInput(f"remove between 1 and {MAX_BATCH} entries at a time")
    playlist = for_change(session, playlist_id=playlist_id, viewer=viewer)
    wanted = set(entry_ids)
    query = delete(E).where(E.playlist_id == playlist.id, one_of(session, E.id, sorted(wanted)))
    gone = session.execute(query.returning(E.id, E.duration_ms).execution_options(**_NO_SYNC)).all()
    missing = wanted - {row.id for row in gone}
    if missing:
        raise NotFound(f"entry {min(missing)} is not in playlist {playlist.id}")
    playlist.track_count -= len(gone)
    playlist.duration_ms -= sum(row.duration_ms for row in gone)
    changed(playlist)
    session.flush()
    return playlist


def move_entry(
    session: Session,
    *,
    playlist_id: int,
    viewer: Viewer,
    entry_id: int,
    before: int | None = None,
    after: int | None = None,
    index: int | None = None,
) -> Playlist:
    """Move one entry: just before entry `before`, just after entry `after`, or to `index` (its place
    once moved, 0 = first). Writes the moved entry's row (and, once in a long while, respaces the entries
    around the spot: see `positions.py`).

    Three statements on PostgreSQL, each built once and run as Core (no ORM unit of work): lock the
    playlist's row; read the entry's position and its new neighbours' in one statement (index probes;
    an index slot reads the index only); update the entry and the playlist's version in one (a
    data-modifying WITH; SQLite takes two UPDATEs)."""
    if sum(x is not None for x in (before, after, index)) != 1:
        raise InvalidInput("say where to move the entry: exactly one of before, after or index")
    if entry_id in (before, after):
        raise InvalidInput("an entry cannot be moved next to itself")
    playlist = locked_row(session, playlist_id=playlist_id, viewer=viewer)
    connection = session.connection()
    params: dict[str, Any] = {"playlist_id": playlist.id, "entry_id": entry_id}
    if index is not None:
        params |= {"skip": max(index - 1, 0), "take": 1 if index == 0 else 2}
        rows = connection.execute(_MOVE_TO_INDEX, params).all()
        current = _found(rows[0].position, entry_id, playlist.id)
        _check_index(playlist, index, moving=True)
        slot = [r.position for r in rows[1:]]
        if index == 0:
            lo, hi = None, (slot[0] if slot else None)
        else:
            lo, hi = slot[0], (slot[1] if len(slot) > 1 else None)
    else:
        anchor_id = before if before is not None else after
        assert anchor_id is not None
        params["anchor_id"] = anchor_id
        row = connection.execute(_MOVE_BEFORE if before is not None else _MOVE_AFTER, params).one()
        current = _found(row.current, entry_id, playlist.id)
        anchor = _found(row.anchor, anchor_id, playlist.id)
        lo, hi = (row.beside, anchor) if before is not None else (anchor, row.beside)
    if (lo is None or lo < current) and (hi is None or current < hi):
        return playlist  # already there: nothing lies between its neighbours but itself
    fit = positions.between(lo, hi, 1)
    if fit is None:
        session.execute(_PLACE, {"entry_id": entry_id, "new_position": positions.PARK})
        fit = _room(session, playlist.id, lo, hi, 1)
    now = utcnow()
    write = {"entry_id": entry_id, "new_position": fit[0], "touched": playlist.id, "now": now}
    if connection.dialect.name == "postgresql":
        connection.execute(_PLACE_AND_TOUCH, write)
    else:
        connection.execute(_PLACE_ROW, write)
        connection.execute(_TOUCH, write)
    playlist.version += 1
    playlist.updated_at = now
    stale = session.identity_map.get(session.identity_key(Playlist, playlist.id))
    if stale is not None:
        session.expire(stale)  # loaded earlier in this session: read it afresh when next used
    return playlist


def page(
    session: Session,
    *,
    playlist_id: int,
    viewer: Viewer,
    at: datetime,
    after: int | None = None,
    limit: int = 100,
) -> EntryPage:
    """Entries in order from just after entry `after` (None: the first), with the playlist and its
    totals; each entry says whether the viewer may play its track now (`catalog.visibility`)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    signed_in(viewer)
    connection = session.connection()
    dialect = connection.dialect.name
    params = {"playlist_id": playlist_id, "after": after, "size": limit + 1, **playable_params(viewer, at)}
    rows = connection.execute(_page_query(dialect, after=after is not None), params).all()
    if not rows:
        raise NotFound(f"playlist {playlist_id} not found")
    playlist = Playlist(**_playlist_of(rows[0][_ENTRY_WIDTH:], connection.dialect))
    if not may_read(playlist, viewer):
        raise NotFound(f"playlist {playlist_id} not found")
    if after is not None and rows[0][0] is None:
        _position_of(session, playlist.id, after)  # a vanished cursor is an error, not an empty page
    if rows[0][0] is None:
        rows = []
    more = len(rows) > limit
    names, utc = _artist_names[dialect], partial(_UTC.process_result_value, dialect=connection.dialect)
    entries = [
        EntryView(
            entry_id,
            track_id,
            TrackInfo(track_id, title, names(artists), release_id, release, seconds, ref_from_row(*art))
            if track_id is not None
            else None,
            utc(added_at),
            bool(available),
        )
        for entry_id, track_id, added_at, title, release_id, release, seconds, artists, available, *art in (
            row[:_ENTRY_WIDTH] for row in rows[:limit]
        )
    ]
    return EntryPage(playlist, entries, entries[-1].entry_id if more else None)


_ENTRY_WIDTH = 14  # the entry's columns (artwork last) come first in a page's rows, the playlist's after
_UTC = UTCDateTime()


def _plain(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A timestamp column read as the driver returns it: `UTCDateTime`'s conversion, applied per row and
    column by the result, is applied by `page` to what it uses, once (the playlist's two timestamps are
    on every one of a page's rows)."""
    return type_coerce(column, DateTime(timezone=True)) if isinstance(column.type, UTCDateTime) else column


def _playlist_of(values: Sequence[Any], dialect: Dialect) -> dict[str, Any]:
    return {
        c.key: _UTC.process_result_value(v, dialect) if isinstance(c.type, UTCDateTime) else v
        for c, v in zip(Playlist.__table__.c, values, strict=True)
    }


@cache
def _page_query(dialect: str, *, after: bool) -> Select[Any]:
    """A page in one statement, built once per dialect (building and keying a statement costs about as
    much as running it here) and read as plain rows (no ORM objects): the page's entries from the
    (playlist_id, position) index, their tracks and releases, each track's artists in credit order and
    whether the viewer may play it (`visibility.playable_condition`, bound to `playable_params`), with the
    playlist's row on every row (left-joined, so an empty page still brings it; checked for access before
    anything is returned). The artwork (`artwork.track_artwork_id`: the track's, else its release's) is
    left-joined by primary key, one index probe per entry; its `variants` JSON is read as text and decoded
    only for an artwork not seen before (`artwork.ref_from_row`): psycopg decoding it on every row was
    a fifth of a page's client CPU. The artists are a correlated subquery
    per entry (an index probe each): joined instead, PostgreSQL hashed the whole track_artists table for
    the page's 100 rows (3 ms at 50,000 tracks)."""
    entries, playlists = PlaylistEntry.__table__, Playlist.__table__
    tracks, releases, artworks = Track.__table__, Release.__table__, Artwork.__table__
    window = select(entries.c.id, entries.c.track_id, entries.c.added_at, entries.c.position)
    window = window.where(entries.c.playlist_id == bindparam("playlist_id"))
    if after:
        start = select(entries.c.position).where(
            entries.c.id == bindparam("after"), entries.c.playlist_id == bindparam("playlist_id")
        )
        window = window.where(entries.c.position > start.scalar_subquery())
    page = window.order_by(entries.c.position).limit(bindparam("size", type_=Integer)).subquery()
    return (
        select(
            page.c.id,
            page.c.track_id,
            _plain(page.c.added_at),
            tracks.c.title,
            tracks.c.release_id,
            releases.c.title.label("release"),
            tracks.c.duration_sec,
            type_coerce(_artists_column(dialect), NullType()).label("artists"),  # read as the driver gives it
            playable_condition().label("available"),
            artworks.c.id.label("artwork_id"),
            artworks.c.sha256,
            artworks.c.width,
            artworks.c.height,
            cast(artworks.c.variants, Text).label("variants"),  # JSON text: parsed on a cache miss only
            *(_plain(c) for c in playlists.c),
        )
        .select_from(playlists)
        .outerjoin(page, true())
        .outerjoin(tracks, tracks.c.id == page.c.track_id)
        .outerjoin(releases, releases.c.id == tracks.c.release_id)
        .outerjoin(artworks, artworks.c.id == track_artwork_id())
        .where(playlists.c.id == bindparam("playlist_id"))
        .order_by(page.c.position)
    )


def _artists_column(dialect: str) -> ColumnElement[Any]:
    """A track's artist names in credit order, aggregated for the page's row: a PostgreSQL array, or a
    JSON array on SQLite (whose aggregates take no ORDER BY before 3.44: it aggregates an ordered
    subquery, which SQLite reads in order)."""
    track_artists, artists = TrackArtist.__table__, Artist.__table__
    credits = select(artists.c.name).join(track_artists, track_artists.c.artist_id == artists.c.id)
    tracks = Track.__table__
    credits = credits.where(track_artists.c.track_id == tracks.c.id).correlate(tracks)
    if dialect == "postgresql":
        ordered = aggregate_order_by(artists.c.name, track_artists.c.position)
        return credits.with_only_columns(func.array_agg(ordered)).scalar_subquery()
    listed = credits.order_by(track_artists.c.position).subquery()
    return select(func.json_group_array(listed.c.name)).scalar_subquery()


_artist_names: dict[str, Callable[[Any], tuple[str, ...]]] = {
    "postgresql": lambda names: tuple(names) if names else (),
    "sqlite": lambda names: tuple(json.loads(names)) if names else (),
}


# --- helpers -------------------------------------------------------------------------------------------


def _addable(session: Session, track_ids: Sequence[int], viewer: Viewer) -> dict[int, int]:
    """Durations (ms) of the tracks, all of which must be listable; else the first one that is not, why."""
    wanted = sorted(set(track_ids))
    query = select(Track.id, Track.status, Track.duration_sec, listable_track().label("listable"))
    found = {row.id: row for row in session.execute(query.where(one_of(session, Track.id, wanted)))}
    for track_id in wanted:
        row = found.get(track_id)
        if row is None or (not row.listable and not viewer.is_admin):
            raise NotFound(f"track {track_id} not found")
        if not row.listable:
            why = "is still processing" if row.status == TrackStatus.processing else f"is {row.status.value}"
            raise InvalidInput(
                f"track {track_id} {why}: only ready, published tracks can be added to a playlist"
            )
    return {t: duration_ms(found[t].duration_sec) for t in wanted}


def _position_of(session: Session, playlist_id: int, entry_id: int) -> int:
    return _positions_of(session, playlist_id, [entry_id])[entry_id]


def _positions_of(session: Session, playlist_id: int, entry_ids: list[int]) -> dict[int, int]:
    """Positions of entries of the playlist, in one query; a missing one is not found."""
    dialect = dialect_of(session)
    params = {"ids": list_value(dialect, entry_ids), "playlist_id": playlist_id}
    found: dict[int, int] = dict(session.execute(_positions_query(dialect), params).tuples().all())
    for entry_id in entry_ids:
        if entry_id not in found:
            raise NotFound(f"entry {entry_id} is not in playlist {playlist_id}")
    return found


def _neighbours_at(
    session: Session, playlist: Playlist, index: int, *, moving: int | None
) -> tuple[int | None, int | None]:
    """Positions of the entries that will sit just before and after slot `index`, leaving out the entry
    being moved (`moving` is its position: positions are unique, and a filter on the index's own column
    needs no visit to the table for each entry skipped). Finding the slot reads `index` index entries (no
    writes); a client that knows the neighbouring entries moves by `before`/`after` in one index probe."""
    _check_index(playlist, index, moving=moving is not None)
    params = {
        "playlist_id": playlist.id,
        "moving": positions.PARK if moving is None else moving,  # PARK: no entry is skipped
        "skip": max(index - 1, 0),
        "take": 1 if index == 0 else 2,
    }
    found = list(session.scalars(_SLOT, params))
    if index == 0:
        return None, (found[0] if found else None)
    return found[0], (found[1] if len(found) > 1 else None)


def _check_index(playlist: Playlist, index: int, *, moving: bool) -> None:
    size = playlist.track_count - (1 if moving else 0)
    if not 0 <= index <= size:
        raise InvalidInput(
            f"index must be between 0 and {size} (the playlist has {playlist.track_count} entries)"
        )


def _found(position: int | None, entry_id: int, playlist_id: int) -> int:
    if position is None:
        raise NotFound(f"entry {entry_id} is not in playlist {playlist_id}")
    return position


# The statements of adds and moves, built once (building and keying a statement costs about as much as
# running it).
_SLOT = (
    select(E.position)
    .where(E.playlist_id == bindparam("playlist_id"), E.position != bindparam("moving"))
    .order_by(E.position)
    .offset(bindparam("skip", type_=Integer))
    .limit(bindparam("take", type_=Integer))
)
_PLACE = (
    update(E)
    .where(E.id == bindparam("entry_id"))
    .values(position=bindparam("new_position", type_=BigInteger))
    .execution_options(**_NO_SYNC)
)
_ENTRIES, _PLAYLISTS = PlaylistEntry.__table__, Playlist.__table__


def _position_in_playlist(entry: str) -> ScalarSelect[Any]:
    """The position of the entry bound as `entry`, if it is in the playlist bound as `playlist_id`."""
    query = select(_ENTRIES.c.position).where(
        _ENTRIES.c.id == bindparam(entry), _ENTRIES.c.playlist_id == bindparam("playlist_id")
    )
    return query.scalar_subquery()


def _move_beside(*, before: bool) -> Select[Any]:
    """A move next to an anchor entry, read in one row: the entry's position (`current`), the anchor's,
    and the position of the anchor's neighbour on that side, leaving out the moving entry (`beside`)."""
    current, anchor = _position_in_playlist("entry_id"), _position_in_playlist("anchor_id")
    side = _ENTRIES.c.position < anchor if before else _ENTRIES.c.position > anchor
    nearest = func.max(_ENTRIES.c.position) if before else func.min(_ENTRIES.c.position)
    beside = select(nearest).where(
        _ENTRIES.c.playlist_id == bindparam("playlist_id"), side, _ENTRIES.c.position != current
    )
    return select(current.label("current"), anchor.label("anchor"), beside.scalar_subquery().label("beside"))


def _move_to_index() -> CompoundSelect[Any]:
    """A move to an index, read in one statement: the entry's position (first row, NULL when it is not in
    the playlist), then the one or two positions around slot `skip` leaving out the moving entry."""
    current = _position_in_playlist("entry_id")
    slot = (
        select(_ENTRIES.c.position)
        .where(_ENTRIES.c.playlist_id == bindparam("playlist_id"), _ENTRIES.c.position != current)
        .order_by(_ENTRIES.c.position)
        .offset(bindparam("skip", type_=Integer))
        .limit(bindparam("take", type_=Integer))
        .subquery()
    )
    first = select(literal(0).label("k"), current.label("position"))
    return union_all(first, select(literal(1), slot.c.position)).order_by("k", "position")


_MOVE_BEFORE = _move_beside(before=True)
_MOVE_AFTER = _move_beside(before=False)
_MOVE_TO_INDEX = _move_to_index()
_PLACE_ROW = (
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("entry_id"))
    .values(position=bindparam("new_position", type_=BigInteger))
)
_TOUCH = (  # what `playlists.changed` does to a loaded playlist
    update(_PLAYLISTS)
    .where(_PLAYLISTS.c.id == bindparam("touched"))  # not "playlist_id": a column of the entries' UPDATE
    .values(version=_PLAYLISTS.c.version + 1, updated_at=bindparam("now", type_=UTCDateTime()))
)
_PLACE_AND_TOUCH = _TOUCH.add_cte(_PLACE_ROW.returning(_ENTRIES.c.id).cte("placed"))


@cache
def _positions_query(dialect: str) -> Select[tuple[int, int]]:
    return select(E.id, E.position).where(in_list(dialect, E.id), E.playlist_id == bindparam("playlist_id"))


def _room(session: Session, playlist_id: int, lo: int | None, hi: int | None, count: int) -> list[int]:
    """`count` free positions between neighbours at `lo` and `hi`, respacing the entries around the
    spot when the gap is spent (see `positions.py`)."""
    fit = positions.between(lo, hi, count)
    if fit is not None:
        return fit
    width = positions.FIRST_WINDOW
    while True:
        left: list[int] = []
        right: list[int] = []
        if lo is not None:
            query = select(E.position).where(E.playlist_id == playlist_id, E.position <= lo)
            query = query.where(E.position >= -positions.LIMIT)
            left = list(session.scalars(query.order_by(E.position.desc()).limit(width + 1)))
        if hi is not None:
            query = select(E.position).where(E.playlist_id == playlist_id, E.position >= hi)
            right = list(session.scalars(query.order_by(E.position).limit(width + 1)))
        bound_lo = left[width] if len(left) > width else None
        bound_hi = right[width] if len(right) > width else None
        split = min(len(left), width)
        spacing = positions.respace(bound_lo, bound_hi, split + min(len(right), width) + count)
        if spacing is not None:
            break
        width *= 2
    _respace(session, playlist_id, bound_lo, bound_hi, spacing, split, count)
    return [spacing.slot(split + i + 1) for i in range(count)]


def _respace(
    session: Session,
    playlist_id: int,
    lo: int | None,
    hi: int | None,
    spacing: positions.Spacing,
    split: int,
    holes: int,
) -> None:
    """Renumber the entries strictly between `lo` and `hi` evenly, leaving `holes` free slots after the
    first `split` of them. Two statements: move the window aside (out of the unique index's way), then
    number it from a window function."""
    lower = lo if lo is not None else -positions.LIMIT - 1
    upper = hi if hi is not None else positions.LIMIT + 1
    aside = update(E).where(E.playlist_id == playlist_id, E.position > lower, E.position < upper)
    session.execute(aside.values(position=E.position - positions.SHIFT).execution_options(**_NO_SYNC))
    moved_aside = E.position.between(-positions.LIMIT - positions.SHIFT, positions.LIMIT - positions.SHIFT)
    ranked = (
        select(E.id, func.row_number().over(order_by=E.position).label("rn"))
        .where(E.playlist_id == playlist_id, moved_aside)
        .subquery()
    )
    slot = ranked.c.rn + case((ranked.c.rn > split, _big(holes)), else_=_big(0))
    renumber = (
        update(E).where(E.id == ranked.c.id).values(position=_big(spacing.base) + _big(spacing.step) * slot)
    )
    session.execute(renumber.execution_options(**_NO_SYNC))


def _big(value: int) -> ColumnElement[int]:
    """A BIGINT parameter: positions overflow PostgreSQL's INTEGER, which small Python ints bind as."""
    return literal(value, BigInteger)
