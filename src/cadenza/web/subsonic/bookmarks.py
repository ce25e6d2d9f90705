"""Bookmarks (getBookmarks, createBookmark, deleteBookmark) on `library.bookmarks`: per-listener
positions in tracks, stored, not a stand-in."""

from __future__ import annotations

from typing import Any

from cadenza.db.engine import reading, transaction
from cadenza.library import bookmarks
from cadenza.web.subsonic import ids, shapes
from cadenza.web.subsonic.browsing import songs_out
from cadenza.web.subsonic.envelope import MISSING_PARAMETER, SubsonicError
from cadenza.web.subsonic.registry import Call, method


@method("getBookmarks")
def get_bookmarks(call: Call) -> dict[str, Any]:
    viewer = call.viewer
    with reading(call.state.c.sessions) as s:
        found = bookmarks.list_for(s, viewer=viewer)
        songs = {x["id"]: x for x in songs_out(s, viewer, [b.track_id for b in found])}
    out = []
    for b in found:
        song = songs.get(ids.make(ids.SONG, b.track_id))
        if song is None:
            continue
        out.append(
            {
                "position": b.position_ms,
                "username": call.principal.email,
                "comment": b.comment,
                "created": shapes.stamp(b.created_at),
                "changed": shapes.stamp(b.updated_at),
                "entry": {**song, "bookmarkPosition": b.position_ms},
            }
        )
    return {"bookmarks": {"bookmark": out}}


@method("createBookmark")
def create_bookmark(call: Call) -> dict[str, Any]:
    """Create or replace the bookmark of a song (`position` in milliseconds)."""
    p = call.params
    track_id = ids.parse(p.required("id", max_length=30), ids.SONG)
    position = p.integer("position", lo=0, hi=bookmarks.MAX_POSITION_MS)
    if position is None:
        raise SubsonicError(MISSING_PARAMETER, "required parameter 'position' is missing")
    comment = p.text("comment", max_length=bookmarks.MAX_COMMENT)
    with transaction(call.state.c.sessions) as s:
        bookmarks.save(s, viewer=call.viewer, track_id=track_id, position_ms=position, comment=comment)
    return {}


@method("deleteBookmark")
def delete_bookmark(call: Call) -> dict[str, Any]:
    track_id = ids.parse(call.params.required("id", max_length=30), ids.SONG)
    with transaction(call.state.c.sessions) as s:
        bookmarks.remove(s, viewer=call.viewer, track_id=track_id)
    return {}
