"""Keeping the index in step with ORM edits made anywhere: an opt-in session hook.

Database triggers (migration 0004) already remove a track the moment it stops being ready or is deleted,
and carry play counts into popularity. Anything that needs the Python folding (a new ready track, a new
title, other artists, a renamed artist or release) is indexed here, in the same transaction as the edit,
just before it commits. Raw SQL edits of names bypass this; `cadenza search reindex` catches them up.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakSet

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog.models import Artist, Release, Track, TrackArtist
from cadenza.search import service

_TRACK_FIELDS = ("title", "genre", "status", "release_id")
_RELEASE_FIELDS = ("title", "release_date", "artist_id")
_PENDING = "search_pending"
_APPLYING = "search_applying"


# Factories already hooked. Not `event.contains`: SQLAlchemy's event registry is keyed by the target's
# id(), so once a factory is garbage-collected a new one at the same address "contains" its listeners
# (194 of 200 fresh factories did in a loop here) and would never be hooked: its edits silently missed
# the index. A weak set forgets a factory when it goes.
_HOOKED: WeakSet[sessionmaker[Session]] = WeakSet()


def keep_in_step(factory: sessionmaker[Session]) -> None:
    """Index catalog changes made through sessions from `factory` when they commit (call once, at wiring)."""
    if factory not in _HOOKED:
        event.listen(factory, "after_flush", _collect)
        event.listen(factory, "before_commit", _apply)
        _HOOKED.add(factory)


def _changed(obj: object, fields: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[f].history.has_changes() for f in fields)


def _collect(session: Session, _flush_context: Any) -> None:
    pending: set[tuple[str, int]] = session.info.setdefault(_PENDING, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        new = obj in session.new
        if isinstance(obj, Track) and (new or _changed(obj, _TRACK_FIELDS)):
            pending.add(("track", obj.id))
        elif isinstance(obj, TrackArtist):
            pending.add(("track", obj.track_id))
        elif isinstance(obj, Artist) and not new and _changed(obj, ("name",)):
            pending.add(("artist", obj.id))
        elif isinstance(obj, Release) and not new and _changed(obj, _RELEASE_FIELDS):
            pending.add(("release", obj.id))


def _apply(session: Session) -> None:
    if session.info.get(_APPLYING):
        return
    session.flush()  # before_commit runs before the final flush: collect its changes first
    pending: set[tuple[str, int]] = session.info.pop(_PENDING, set())
    if not pending:
        return
    session.info[_APPLYING] = True
    try:
        for what, ref_id in sorted(pending):
            if what == "artist":
                service.index_artist(session, artist_id=ref_id)
            elif what == "release":
                service.index_release(session, release_id=ref_id)
            else:
                service.index_track(session, track_id=ref_id)
    finally:
        session.info.pop(_APPLYING, None)
