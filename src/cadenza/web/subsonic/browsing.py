"""Browsing by ID3 tags: getArtists, getIndexes, getArtist, getAlbum, getSong, getMusicDirectory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from cadenza.catalog import browse, lyrics, song_rows
from cadenza.catalog.visibility import Viewer
from cadenza.db.engine import reading
from cadenza.db.lists import dialect_of, in_list, list_value
from cadenza.library.marks import MARKS, Kind
from cadenza.web.subsonic import ids, shapes
from cadenza.web.subsonic.envelope import NOT_FOUND, Clean, SubsonicError
from cadenza.web.subsonic.registry import Call, method

IGNORED_ARTICLES = "The El La Los Las Le Les"


def marks_of(
    s: Session, viewer: Viewer, kind: Kind, item_ids: Sequence[int], *, ascending: bool = False
) -> dict[int, tuple[datetime | None, int | None]]:
    """The viewer's star time and rating of each marked item, in one statement built once per kind and
    dialect. Ids given in ascending order (a sync page) are looked up as their range (binding 500 ids
    as an array cost 3 ms of CPU a page); others bound as one list."""
    if not item_ids or viewer.user_id is None:
        return {}
    if ascending:
        rows = s.execute(
            _marks_statement(kind, "range"),
            {"user": viewer.user_id, "lo": item_ids[0], "hi": item_ids[-1]},
        )
        wanted = set(item_ids)
        return {i: (st, r) for i, st, r in rows if i in wanted}
    dialect = dialect_of(s)
    rows = s.execute(
        _marks_statement(kind, dialect), {"user": viewer.user_id, "ids": list_value(dialect, item_ids)}
    )
    return {i: (st, r) for i, st, r in rows}


@cache
def _marks_statement(kind: Kind, dialect: str) -> Select[tuple[int, datetime | None, int | None]]:
    """Marks of one user among a list of ids (`dialect`) or in the id range lo..hi ("range")."""
    m = MARKS[kind]
    which = (
        m.item_id.between(bindparam("lo"), bindparam("hi"))
        if dialect == "range"
        else in_list(dialect, m.item_id)
    )
    return select(m.item_id, m.model.starred_at, m.model.rating).where(
        m.model.user_id == bindparam("user"), which
    )


def songs_out(s: Session, viewer: Viewer, track_ids: Sequence[int]) -> list[dict[str, Any]]:
    """`Child`s of the songs the viewer may see, in the order given."""
    return songs_of(s, viewer, song_rows.of_ids(s, viewer=viewer, track_ids=track_ids))


def songs_of(
    s: Session, viewer: Viewer, rows: Sequence[song_rows.SongRow], *, ascending: bool = False
) -> list[dict[str, Any]]:
    """`Child`s of the songs' rows, with the viewer's stars and ratings (`ascending`: the rows are in id
    order, as a sync page's)."""
    marks = marks_of(s, viewer, Kind.track, [r[0] for r in rows], ascending=ascending)
    if not marks:  # the common case: a listener has starred or rated none of the page
        return Clean(shapes.song(r) for r in rows)
    none = (None, None)
    return Clean(
        shapes.song(r, starred=marks.get(r[0], none)[0], rating=marks.get(r[0], none)[1]) for r in rows
    )


def albums_out(
    s: Session, viewer: Viewer, release_ids: Sequence[int], *, folders: bool = False
) -> list[dict[str, Any]]:
    """`AlbumID3`s of the releases, in the order given (or folder `Child`s with `folders`)."""
    facts = browse.releases(s, viewer=viewer, release_ids=release_ids)
    order = {r: i for i, r in enumerate(release_ids)}
    return albums_of(s, viewer, sorted(facts, key=lambda f: order.get(f.id, len(order))), folders=folders)


def albums_of(
    s: Session,
    viewer: Viewer,
    facts: Sequence[browse.ReleaseFacts],
    *,
    folders: bool = False,
    ascending: bool = False,
) -> list[dict[str, Any]]:
    """`AlbumID3`s (or folder `Child`s) of the releases' facts, with the viewer's stars and ratings
    (`ascending`: in id order, as a sync page)."""
    marks = marks_of(s, viewer, Kind.release, [f.id for f in facts], ascending=ascending)
    none = (None, None)
    if folders:
        return [
            shapes.album_folder(f, starred=marks.get(f.id, none)[0], rating=marks.get(f.id, none)[1])
            for f in facts
        ]
    if not marks:  # the common case: none of the page starred or rated
        return Clean(shapes.album(f) for f in facts)
    return Clean(
        shapes.album(f, starred=marks.get(f.id, none)[0], rating=marks.get(f.id, none)[1]) for f in facts
    )


def artists_out(
    s: Session,
    viewer: Viewer,
    artist_ids: Sequence[int] | None = None,
    *,
    page: tuple[int, int] | None = None,
    after: int | None = None,
    folders: bool = False,
) -> list[dict[str, Any]]:
    """`ArtistID3`s by name (or folder-era `Artist`s with `folders`)."""
    facts = browse.artists(s, viewer=viewer, artist_ids=artist_ids, by_id_page=page, after=after)
    marks = marks_of(s, viewer, Kind.artist, [f.id for f in facts])
    shape = shapes.artist_folder if folders else shapes.artist
    return [shape(f, starred=marks.get(f.id, (None, None))[0]) for f in facts]


def _index_letter(name: str) -> str:
    words = name.split()
    if len(words) > 1 and words[0] in IGNORED_ARTICLES.split():
        name = " ".join(words[1:])
    first = name[:1].upper()
    return first if first.isalpha() else "#"


def _indexed(artists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in artists:
        groups.setdefault(_index_letter(a["name"]), []).append(a)
    return [{"name": k, "artist": v} for k, v in sorted(groups.items())]


@method("getArtists")
def get_artists(call: Call) -> dict[str, Any]:
    with reading(call.state.c.sessions) as s:
        artists = artists_out(s, call.viewer)
    return {"artists": {"ignoredArticles": IGNORED_ARTICLES, "index": _indexed(artists)}}


@method("getIndexes")
def get_indexes(call: Call) -> dict[str, Any]:
    with reading(call.state.c.sessions) as s:
        artists = artists_out(s, call.viewer, folders=True)
    return {"indexes": {"ignoredArticles": IGNORED_ARTICLES, "lastModified": 0, "index": _indexed(artists)}}


def _artist(call: Call, artist_id: int, *, folders: bool = False) -> dict[str, Any]:
    viewer = call.viewer
    with reading(call.state.c.sessions) as s:
        found = artists_out(s, viewer, [artist_id])
        if not found:
            raise SubsonicError(NOT_FOUND, "artist not found")
        release_ids = browse.release_ids_of_artist(s, viewer=viewer, artist_id=artist_id)
        albums = albums_out(s, viewer, release_ids, folders=folders)
    return {**found[0], "album": albums}


def _album(call: Call, release_id: int) -> dict[str, Any]:
    viewer = call.viewer
    with reading(call.state.c.sessions) as s:
        found = albums_out(s, viewer, [release_id])
        if not found:
            raise SubsonicError(NOT_FOUND, "album not found")
        songs = songs_out(s, viewer, browse.track_ids_of_release(s, viewer=viewer, release_id=release_id))
    return {**found[0], "song": songs}


@method("getArtist")
def get_artist(call: Call) -> dict[str, Any]:
    return {"artist": _artist(call, ids.parse(call.params.required("id"), ids.ARTIST))}


@method("getAlbum")
def get_album(call: Call) -> dict[str, Any]:
    return {"album": _album(call, ids.parse(call.params.required("id"), ids.ALBUM))}


@method("getSong")
def get_song(call: Call) -> dict[str, Any]:
    track_id = ids.parse(call.params.required("id"), ids.SONG)
    with reading(call.state.c.sessions) as s:
        found = songs_out(s, call.viewer, [track_id])
    if not found:
        raise SubsonicError(NOT_FOUND, "song not found")
    return {"song": found[0]}


@method("getLyricsBySongId")
def get_lyrics_by_song_id(call: Call) -> dict[str, Any]:
    """OpenSubsonic songLyrics: the track's lyrics as structured lines (synced with `start` in ms, or
    unsynced), from `catalog.lyrics` under the same visibility as the REST API; none is an empty list."""
    track_id = ids.parse(call.params.required("id"), ids.SONG)
    with reading(call.state.c.sessions) as s:
        track, found = lyrics.visible(s, viewer=call.viewer, track_id=track_id)
        artist = ", ".join(a.name for a in track.artists) or None
        title = track.title
    if found is None:
        return {"lyricsList": {"structuredLyrics": []}}
    synced = all(line.start_ms is not None for line in found.lines)
    lines = [
        {"start": line.start_ms, "value": line.text} if synced else {"value": line.text}
        for line in found.lines
    ]
    entry = {
        "displayArtist": artist,
        "displayTitle": title,
        "lang": found.language or "xxx",
        "offset": 0,
        "synced": synced,
        "line": lines,
    }
    return {"lyricsList": {"structuredLyrics": [entry]}}


@method("getMusicDirectory")
def get_music_directory(call: Call) -> dict[str, Any]:
    """Folders are artists and albums: an artist's children are its albums (as directories), an album's
    its songs."""
    kind, number = ids.split(call.params.required("id"))
    if kind == ids.ARTIST:
        a = _artist(call, number, folders=True)
        return {"directory": {"id": a["id"], "name": a["name"], "child": a["album"]}}
    if kind == ids.ALBUM:
        al = _album(call, number)
        return {
            "directory": {"id": al["id"], "name": al["name"], "parent": al["artistId"], "child": al["song"]}
        }
    raise SubsonicError(NOT_FOUND, "not a directory")


@method("getGenres")
def get_genres(call: Call) -> dict[str, Any]:
    with reading(call.state.c.sessions) as s:
        found = browse.genres(s, viewer=call.viewer)
    return {
        "genres": {
            "genre": [
                {"songCount": g.song_count, "albumCount": g.album_count, "value": g.name} for g in found
            ]
        }
    }


@method("getRandomSongs")
def get_random_songs(call: Call) -> dict[str, Any]:
    p, viewer = call.params, call.viewer
    size = p.integer("size", default=10, lo=1, hi=browse.MAX_PAGE) or 10
    with reading(call.state.c.sessions) as s:
        track_ids = browse.track_ids_by(
            s, viewer=viewer, size=size, shuffled=True, genre=p.text("genre", max_length=100),
            from_year=p.integer("fromYear", lo=0, hi=9999), to_year=p.integer("toYear", lo=0, hi=9999),
        )  # fmt: skip
        return {"randomSongs": {"song": songs_out(s, viewer, track_ids)}}


@method("getSongsByGenre")
def get_songs_by_genre(call: Call) -> dict[str, Any]:
    p, viewer = call.params, call.viewer
    genre = p.required("genre", max_length=100)
    size = p.integer("count", default=10, lo=1, hi=browse.MAX_PAGE) or 10
    offset = p.integer("offset", default=0, lo=0, hi=1_000_000) or 0
    with reading(call.state.c.sessions) as s:
        track_ids = browse.track_ids_by(s, viewer=viewer, size=size, offset=offset, genre=genre)
        return {"songsByGenre": {"song": songs_out(s, viewer, track_ids)}}
