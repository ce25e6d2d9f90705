"""Lists and the listener's library: search3, getAlbumList2, star/unstar/getStarred2, setRating,
playlists, play queue; on `search`, `catalog.browse` and `cadenza.library`."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.accounts.models import User
from cadenza.catalog import browse, release_rows, song_rows
from cadenza.db.base import utcnow
from cadenza.db.engine import reading, transaction
from cadenza.errors import NotFound
from cadenza.library import entries, favourites, history, playlists, queue, ratings
from cadenza.library.marks import MARKS, Kind
from cadenza.search import service as search
from cadenza.web.subsonic import ids, shapes
from cadenza.web.subsonic.browsing import albums_of, albums_out, artists_out, songs_of, songs_out
from cadenza.web.subsonic.envelope import MISSING_PARAMETER, SubsonicError
from cadenza.web.subsonic.registry import Call, method

MAX_OFFSET = 1_000_000
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # when a play queue never saved was last changed
SEARCH_DEPTH = 500  # results of a non-empty query reachable by offset (best first)
# Threads that read a sync page's artists and albums beside its songs (`_sync_page`); one per request
# at most, so as many as the server's own worker threads could ever ask for at once is enough.
_SYNC_PARTS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="subsonic-sync")


def _search_ids(s: Any, q: str, kind: str, count: int, offset: int) -> list[int]:
    if count == 0 or offset >= SEARCH_DEPTH:
        return []
    wanted, found, cursor = min(offset + count, SEARCH_DEPTH), [], None
    while len(found) < wanted:
        page = search.search(s, q=q, type=kind, limit=search.MAX_LIMIT, cursor=cursor, facets=False)
        found += [h.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    return found[offset : offset + count]


@method("search3")
def search3(call: Call) -> dict[str, Any]:
    """On Cadenza's search (folding, transliteration, phonetics, typos); an empty query (or `""`, as some
    clients send) lists everything, paged, for clients that sync the whole library."""
    return {"searchResult3": _search(call, folders=False)}


@method("search2")
def search2(call: Call) -> dict[str, Any]:
    """search3 with the folder-era shapes (`Artist`, album `Child`s)."""
    return {"searchResult2": _search(call, folders=True)}


def _search(call: Call, *, folders: bool) -> dict[str, Any]:
    p = call.params
    q = (p.text("query", max_length=1000) or "").strip()
    if q in ('""', "''"):
        q = ""
    counts = {
        k: p.integer(f"{k}Count", default=20, lo=0, hi=browse.MAX_PAGE) or 0
        for k in ("artist", "album", "song")
    }
    offsets = {
        k: p.integer(f"{k}Offset", default=0, lo=0, hi=MAX_OFFSET) or 0 for k in ("artist", "album", "song")
    }
    viewer = call.viewer
    with reading(call.state.c.sessions) as s:
        if not q:  # a client syncing the whole library
            return _sync_page(call, s, counts, offsets, folders=folders)
        artist_ids = _search_ids(s, q, "artist", counts["artist"], offsets["artist"])
        release_ids = _search_ids(s, q, "release", counts["album"], offsets["album"])
        track_ids = _search_ids(s, q, "track", counts["song"], offsets["song"])
        artists = artists_out(s, viewer, artist_ids, folders=folders)
        by_id = {a["id"]: a for a in artists}
        artists = [by_id[i] for i in (ids.make(ids.ARTIST, n) for n in artist_ids) if i in by_id]
        return {
            "artist": artists,
            "album": albums_out(s, viewer, release_ids, folders=folders),
            "song": songs_out(s, viewer, track_ids),
        }


def _sync_page(
    call: Call, s: Session, counts: dict[str, int], offsets: dict[str, int], *, folders: bool
) -> dict[str, Any]:
    """A page of a full sync: each kind in id order, continuing after the client's previous page
    (keyset). Its artists and albums are read on a second connection while this one reads the songs:
    the two are independent, and each spends half its time waiting on the database, so a page that
    carries all three (the first 21 of a 100k-track sync) costs about what a songs-only page costs
    rather than the sum (bench/subsonic_sync.py)."""
    p, viewer = call.params, call.viewer
    cursors, owner = call.state.page_cursors, (viewer.user_id, viewer.is_admin, p.text("c", max_length=100))

    def artists_and_albums() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        artists: list[dict[str, Any]] = []
        albums: list[dict[str, Any]] = []
        with reading(call.state.c.sessions) as other:
            if counts["artist"]:
                after = cursors.after(owner, "artist", offsets["artist"])
                artists = artists_out(
                    other, viewer, page=(offsets["artist"], counts["artist"]), after=after, folders=folders
                )
                walked = sorted(ids.parse(a["id"], ids.ARTIST) for a in artists)
                cursors.gave(owner, "artist", offsets["artist"], walked)
            if counts["album"]:
                after = cursors.after(owner, "album", offsets["album"])
                facts = release_rows.page(
                    other, viewer=viewer, size=counts["album"], offset=offsets["album"], after=after
                )
                cursors.gave(owner, "album", offsets["album"], [f.id for f in facts])
                albums = albums_of(other, viewer, facts, folders=folders, ascending=True)
        return artists, albums

    beside = (
        _SYNC_PARTS.submit(contextvars.copy_context().run, artists_and_albums)
        if counts["artist"] or counts["album"]
        else None
    )
    after = cursors.after(owner, "song", offsets["song"])
    page = song_rows.page(s, viewer=viewer, size=counts["song"], offset=offsets["song"], after=after)
    cursors.gave(owner, "song", offsets["song"], [r[0] for r in page])
    songs = songs_of(s, viewer, page, ascending=True)
    artists, albums = beside.result() if beside is not None else ([], [])  # its error, if any, raised here
    return {"artist": artists, "album": albums, "song": songs}


@method("getAlbumList2")
def get_album_list2(call: Call) -> dict[str, Any]:
    return {"albumList2": {"album": _album_list(call, folders=False)}}


@method("getAlbumList")
def get_album_list(call: Call) -> dict[str, Any]:
    """getAlbumList2 with albums as folder `Child`s."""
    return {"albumList": {"album": _album_list(call, folders=True)}}


def _album_list(call: Call, *, folders: bool) -> list[dict[str, Any]]:
    p = call.params
    kind = p.required("type", max_length=30)
    size = p.integer("size", default=10, lo=1, hi=browse.MAX_PAGE) or 10
    offset = p.integer("offset", default=0, lo=0, hi=MAX_OFFSET) or 0
    viewer = call.viewer
    with reading(call.state.c.sessions) as s:
        if kind == "starred":
            page = favourites.list_favourites(
                s, viewer=viewer, kind=Kind.release, at=utcnow(), limit=min(offset + size, 500)
            )
            release_ids = [f.id for f in page.items][offset:]
        elif kind == "byGenre":
            genre = p.required("genre", max_length=100)
            release_ids = browse.release_page(
                s, viewer=viewer, order="newest", size=size, offset=offset, genre=genre
            )
        elif kind == "recent":  # the albums of the listener's recently played tracks, latest first
            played = history.recently_played(s, viewer=viewer, at=utcnow(), limit=history.MAX_RECENT)
            recent = dict.fromkeys(p.track.release_id for p in played if p.track.release_id is not None)
            release_ids = list(recent)[offset : offset + size]
        elif kind == "highest":  # by the listener's own ratings
            mark = MARKS[Kind.release]
            release_ids = list(
                s.scalars(
                    select(mark.item_id)
                    .where(mark.model.user_id == viewer.user_id, mark.model.rating.is_not(None))
                    .order_by(mark.model.rating.desc(), mark.item_id)
                    .offset(offset)
                    .limit(size)
                )
            )
        elif kind == "byYear":
            release_ids = browse.release_page(
                s, viewer=viewer, order="byYear", size=size, offset=offset,
                from_year=p.integer("fromYear", default=0, lo=0, hi=9999),
                to_year=p.integer("toYear", default=9999, lo=0, hi=9999),
            )  # fmt: skip
        elif kind in browse.ORDERS:
            release_ids = browse.release_page(s, viewer=viewer, order=kind, size=size, offset=offset)
        else:
            raise SubsonicError(MISSING_PARAMETER, f"unknown list type {kind!r}")
        return albums_out(s, viewer, release_ids, folders=folders)


def _targets(call: Call) -> list[tuple[Kind, int]]:
    p = call.params
    out = [(Kind.track, ids.parse(v, ids.SONG)) for v in p.all("id")]
    out += [(Kind.release, ids.parse(v, ids.ALBUM)) for v in p.all("albumId")]
    out += [(Kind.artist, ids.parse(v, ids.ARTIST)) for v in p.all("artistId")]
    if not out:
        raise SubsonicError(MISSING_PARAMETER, "required parameter 'id', 'albumId' or 'artistId' is missing")
    return out


@method("star")
def star(call: Call) -> dict[str, Any]:
    targets, viewer = _targets(call), call.viewer
    with transaction(call.state.c.sessions) as s:
        for kind, item in targets:
            favourites.star(s, viewer=viewer, kind=kind, item_id=item)
    return {}


@method("unstar")
def unstar(call: Call) -> dict[str, Any]:
    targets, viewer = _targets(call), call.viewer
    with transaction(call.state.c.sessions) as s:
        for kind, item in targets:
            favourites.unstar(s, viewer=viewer, kind=kind, item_id=item)
    return {}


@method("getStarred2")
def get_starred2(call: Call) -> dict[str, Any]:
    return {"starred2": _starred(call, folders=False)}


@method("getStarred")
def get_starred(call: Call) -> dict[str, Any]:
    return {"starred": _starred(call, folders=True)}


def _starred(call: Call, *, folders: bool) -> dict[str, Any]:
    viewer, at = call.viewer, utcnow()
    with reading(call.state.c.sessions) as s:

        def starred(kind: Kind) -> list[int]:
            return [
                f.id for f in favourites.list_favourites(s, viewer=viewer, kind=kind, at=at, limit=500).items
            ]

        return {
            "artist": artists_out(s, viewer, starred(Kind.artist), folders=folders),
            "album": albums_out(s, viewer, starred(Kind.release), folders=folders),
            "song": songs_out(s, viewer, starred(Kind.track)),
        }


@method("setRating")
def set_rating(call: Call) -> dict[str, Any]:
    kind, number = ids.split(call.params.required("id"))
    rating = call.params.integer("rating", lo=0, hi=5)
    if rating is None:
        raise SubsonicError(MISSING_PARAMETER, "required parameter 'rating' is missing")
    which = {ids.SONG: Kind.track, ids.ALBUM: Kind.release, ids.ARTIST: Kind.artist}.get(kind)
    if which is None:
        raise NotFound("only songs, albums and artists can be rated")
    with transaction(call.state.c.sessions) as s:
        ratings.rate(s, viewer=call.viewer, kind=which, item_id=number, rating=rating)
    return {}


# --- playlists ------------------------------------------------------------------------------------------


def _owner_names(s: Any, owner_ids: set[int]) -> dict[int, str]:
    return (
        dict(s.execute(select(User.id, User.email).where(User.id.in_(owner_ids))).all()) if owner_ids else {}
    )


def _playlist_with_entries(s: Any, call: Call, playlist_id: int) -> dict[str, Any]:
    viewer = call.viewer
    got = entries.page(s, playlist_id=playlist_id, viewer=viewer, at=utcnow(), limit=500)
    track_ids = [e.track_id for e in got.entries if e.track_id is not None]
    owner = _owner_names(s, {got.playlist.owner_id}).get(got.playlist.owner_id, "")
    return {**shapes.playlist(got.playlist, owner=owner), "entry": songs_out(s, viewer, track_ids)}


@method("getPlaylists")
def get_playlists(call: Call) -> dict[str, Any]:
    viewer = call.viewer
    with reading(call.state.c.sessions) as s:
        mine = playlists.list_playlists(s, viewer=viewer, limit=500)
        names = _owner_names(s, {p.owner_id for p in mine})
        return {
            "playlists": {"playlist": [shapes.playlist(p, owner=names.get(p.owner_id, "")) for p in mine]}
        }


@method("getPlaylist")
def get_playlist(call: Call) -> dict[str, Any]:
    playlist_id = ids.parse(call.params.required("id"), ids.PLAYLIST)
    with reading(call.state.c.sessions) as s:
        return {"playlist": _playlist_with_entries(s, call, playlist_id)}


@method("createPlaylist")
def create_playlist(call: Call) -> dict[str, Any]:
    """A new playlist (`name`), or, with `playlistId`, that playlist's songs replaced by `songId`s."""
    p, viewer = call.params, call.viewer
    existing = p.text("playlistId", max_length=30)
    songs = [ids.parse(v, ids.SONG) for v in p.all("songId")]
    with transaction(call.state.c.sessions) as s:
        if existing:
            playlist_id = ids.parse(existing, ids.PLAYLIST)
            got = entries.page(s, playlist_id=playlist_id, viewer=viewer, at=utcnow(), limit=500)
            old = [e.entry_id for e in got.entries]
            if old:
                entries.remove_entries(s, playlist_id=playlist_id, viewer=viewer, entry_ids=old)
        else:
            playlist_id = playlists.create_playlist(s, viewer=viewer, name=p.required("name")).id
        if songs:
            entries.add_tracks(s, playlist_id=playlist_id, viewer=viewer, track_ids=songs)
    with reading(call.state.c.sessions) as s:
        return {"playlist": _playlist_with_entries(s, call, playlist_id)}


@method("updatePlaylist")
def update_playlist(call: Call) -> dict[str, Any]:
    p, viewer = call.params, call.viewer
    playlist_id = ids.parse(p.required("playlistId", max_length=30), ids.PLAYLIST)
    public = p.text("public", max_length=5)
    adding = [ids.parse(v, ids.SONG) for v in p.all("songIdToAdd")]
    raw_indexes = p.all("songIndexToRemove", max_length=6)
    if not all(v.isascii() and v.isdigit() for v in raw_indexes):
        raise SubsonicError(MISSING_PARAMETER, "songIndexToRemove must be whole numbers")
    removing = [int(v) for v in raw_indexes]
    with transaction(call.state.c.sessions) as s:
        playlists.update_playlist(
            s,
            playlist_id=playlist_id,
            viewer=viewer,
            name=p.text("name"),
            description=p.text("comment", max_length=10_000),
            public=None if public is None else p.flag("public"),
        )
        if removing:
            got = entries.page(s, playlist_id=playlist_id, viewer=viewer, at=utcnow(), limit=500)
            at = [got.entries[i].entry_id for i in sorted(set(removing)) if i < len(got.entries)]
            if at:
                entries.remove_entries(s, playlist_id=playlist_id, viewer=viewer, entry_ids=at)
        if adding:
            entries.add_tracks(s, playlist_id=playlist_id, viewer=viewer, track_ids=adding)
    return {}


@method("deletePlaylist")
def delete_playlist(call: Call) -> dict[str, Any]:
    playlist_id = ids.parse(call.params.required("id"), ids.PLAYLIST)
    with transaction(call.state.c.sessions) as s:
        playlists.delete_playlist(s, playlist_id=playlist_id, viewer=call.viewer)
    return {}


# --- play queue -----------------------------------------------------------------------------------------


@method("getPlayQueue")
def get_play_queue(call: Call) -> dict[str, Any]:
    viewer = call.viewer
    with reading(call.state.c.sessions) as s:
        q = queue.get_queue(s, viewer=viewer, at=utcnow())
        if q is None:  # nothing saved yet: an empty queue (apps read `playQueue` unconditionally),
            # changed at the epoch: older than any queue an app holds, so none replaces its own with it
            return {
                "playQueue": {
                    "position": 0,
                    "username": call.principal.email,
                    "changed": shapes.stamp(NEVER),
                    "changedBy": "",
                    "entry": [],
                }
            }
        track_ids = [e.track.id for e in q.entries]
        current = track_ids[q.current_index] if 0 <= q.current_index < len(track_ids) else None
        return {
            "playQueue": {
                "current": ids.make(ids.SONG, current),
                "position": q.position_ms,
                "username": call.principal.email,
                "changed": shapes.stamp(q.updated_at),
                "changedBy": q.device,
                "entry": songs_out(s, viewer, track_ids),
            }
        }


@method("savePlayQueue")
def save_play_queue(call: Call) -> dict[str, Any]:
    p = call.params
    track_ids = [ids.parse(v, ids.SONG) for v in p.all("id")]
    current = p.text("current", max_length=30)
    index = (
        track_ids.index(ids.parse(current, ids.SONG))
        if current and ids.parse(current, ids.SONG) in track_ids
        else 0
    )
    with transaction(call.state.c.sessions) as s:
        queue.save_queue(
            s,
            viewer=call.viewer,
            track_ids=track_ids,
            current_index=index,
            position_ms=p.integer("position", default=0, lo=0, hi=86_400_000) or 0,
            device=(p.text("c", max_length=100) or "Subsonic client").strip() or "Subsonic client",
        )
    return {}


@method("getNowPlaying")
def get_now_playing(call: Call) -> dict[str, Any]:
    """What every listener is playing now, as the spec says (`library.history.now_playing`: each
    listener's latest stream still within its track's length), limited to the tracks the caller may see.
    The caller's own entry names them by their username (their email); other listeners appear under
    their display name only, never their email address. `CADENZA_SUBSONIC__SHARE_NOW_PLAYING=false`
    shows each listener only their own."""
    viewer, at, me = call.viewer, utcnow(), call.principal
    share = call.state.c.settings.subsonic.share_now_playing
    call.state.recorder.flush()  # a stream started a moment ago may still be in the recorder's buffer
    with reading(call.state.c.sessions) as s:
        playing = [p for p in history.now_playing(s, viewer=viewer, at=at) if share or p.user_id == me.id]
        songs = {x["id"]: x for x in songs_out(s, viewer, [p.track_id for p in playing])}
    entries = []
    for p in playing:
        song = songs.get(ids.make(ids.SONG, p.track_id))
        if song is not None:
            entries.append(
                {
                    **song,
                    "username": me.email if p.user_id == me.id else p.display_name,
                    "minutesAgo": max(int((at - p.started_at).total_seconds() // 60), 0),
                    "playerId": 0,
                }
            )
    return {"nowPlaying": {"entry": entries}}
