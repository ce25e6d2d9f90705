"""Playlists: create, read, rename, describe, publish, duplicate and delete, and who may do which.

Who may do what (`may_read`, `may_change`, `may_delete`): the owner everything; any signed-in listener
reads a public playlist; an administrator reads any playlist and may delete one, but changes none (a
playlist is its owner's work). A playlist the caller may not read is reported as not found, so private
playlists cannot be discovered by id; one they may read but not change is forbidden.

Every change locks the playlist's row first (`for_change`) and raises its `version`: see `entries.py` for
why that makes concurrent edits from several devices safe."""

from __future__ import annotations

from sqlalchemy import bindparam, func, insert, literal, select
from sqlalchemy.orm import Session

from cadenza.catalog.visibility import Viewer
from cadenza.db.base import utcnow
from cadenza.errors import Forbidden, InvalidInput, NotFound
from cadenza.library.limits import MAX_DESCRIPTION, MAX_NAME, MAX_PAGE
from cadenza.library.models import Playlist, PlaylistEntry


def may_read(playlist: Playlist, viewer: Viewer) -> bool:
    return viewer.is_admin or playlist.public or playlist.owner_id == viewer.user_id


def may_change(playlist: Playlist, viewer: Viewer) -> bool:
    return viewer.user_id is not None and playlist.owner_id == viewer.user_id


def may_delete(playlist: Playlist, viewer: Viewer) -> bool:
    return viewer.is_admin or may_change(playlist, viewer)


def signed_in(viewer: Viewer) -> int:
    """The viewer's user id; the library is only for signed-in listeners."""
    if viewer.user_id is None:
        raise Forbidden("sign in to use a library")
    return viewer.user_id


def clean_name(name: str) -> str:
    text = name.strip()
    if not 1 <= len(text) <= MAX_NAME:
        raise InvalidInput(f"a playlist name has 1 to {MAX_NAME} characters (got {len(text)})")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput("a playlist name cannot contain control characters (line breaks, tabs)")
    return text


def clean_description(description: str) -> str:
    text = description.strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"a playlist description has at most {MAX_DESCRIPTION} characters (got {len(text)})"
        )
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text):
        raise InvalidInput("a playlist description cannot contain control characters other than line breaks")
    return text


def readable(session: Session, *, playlist_id: int, viewer: Viewer) -> Playlist:
    """The playlist, if the viewer may read it."""
    signed_in(viewer)
    playlist = session.get(Playlist, playlist_id)
    if playlist is None or not may_read(playlist, viewer):
        raise NotFound(f"playlist {playlist_id} not found")
    return playlist


def for_change(session: Session, *, playlist_id: int, viewer: Viewer, deleting: bool = False) -> Playlist:
    """The playlist, locked until the transaction ends, if the viewer may change (or delete) it.

    The lock is PostgreSQL's FOR NO KEY UPDATE: it queues every other change of this playlist behind this
    one, yet lets other playlists' entries reference it (their foreign-key checks take KEY SHARE locks).
    On SQLite, a writing transaction (`db.engine.transaction`) holds the database's write lock from its
    start, which orders changes the same way."""
    signed_in(viewer)
    playlist = session.scalar(_LOCK, {"playlist_id": playlist_id})
    _check_change(playlist, playlist_id, viewer, deleting=deleting)
    assert playlist is not None
    return playlist


def locked_row(session: Session, *, playlist_id: int, viewer: Viewer) -> Playlist:
    """`for_change` for a change written with Core statements (a move, the hottest change): the same lock
    and the same checks, the row read as plain values into a `Playlist` that is not in the session (the
    change updates the row itself; see `entries.move_entry`). Without the ORM's loading and flush, a
    move's client CPU fell from about 4.3 to 2.3 ms here (with its other statements made Core too)."""
    signed_in(viewer)
    row = session.connection().execute(_LOCK_ROW, {"playlist_id": playlist_id}).first()
    playlist = None if row is None else Playlist(**row._mapping)
    _check_change(playlist, playlist_id, viewer, deleting=False)
    assert playlist is not None
    return playlist


def _check_change(playlist: Playlist | None, playlist_id: int, viewer: Viewer, *, deleting: bool) -> None:
    if playlist is None or not may_read(playlist, viewer):
        raise NotFound(f"playlist {playlist_id} not found")
    allowed = may_delete(playlist, viewer) if deleting else may_change(playlist, viewer)
    if not allowed:
        raise Forbidden(f"only the owner of playlist {playlist_id} can change it")


_LOCK = (
    select(Playlist)
    .where(Playlist.id == bindparam("playlist_id"))
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)
_PLAYLISTS = Playlist.__table__
_LOCK_ROW = (
    select(*_PLAYLISTS.c).where(_PLAYLISTS.c.id == bindparam("playlist_id")).with_for_update(key_share=True)
)


def changed(playlist: Playlist) -> None:
    """Record a change: the version every device compares goes up by one."""
    playlist.version += 1
    playlist.updated_at = utcnow()


def create_playlist(
    session: Session, *, viewer: Viewer, name: str, description: str = "", public: bool = False
) -> Playlist:
    now = utcnow()
    playlist = Playlist(
        owner_id=signed_in(viewer),
        name=clean_name(name),
        description=clean_description(description),
        public=public,
        track_count=0,
        duration_ms=0,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(playlist)
    session.flush()
    return playlist


def get_playlist(session: Session, *, playlist_id: int, viewer: Viewer) -> Playlist:
    return readable(session, playlist_id=playlist_id, viewer=viewer)


def list_playlists(
    session: Session,
    *,
    viewer: Viewer,
    owner_id: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[Playlist]:
    """A listener's playlists in creation order, paged by the last id seen: the caller's own by default,
    only the public ones of someone else's (an administrator sees them all)."""
    me = signed_in(viewer)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    owner = me if owner_id is None else owner_id
    query = select(Playlist).where(Playlist.owner_id == owner)
    if owner != me and not viewer.is_admin:
        query = query.where(Playlist.public.is_(True))
    if after is not None:
        query = query.where(Playlist.id > after)
    return list(session.scalars(query.order_by(Playlist.id).limit(limit)))


def update_playlist(
    session: Session,
    *,
    playlist_id: int,
    viewer: Viewer,
    name: str | None = None,
    description: str | None = None,
    public: bool | None = None,
) -> Playlist:
    """Rename, describe, publish or make private: only what is given changes."""
    playlist = for_change(session, playlist_id=playlist_id, viewer=viewer)
    if name is not None:
        playlist.name = clean_name(name)
    if description is not None:
        playlist.description = clean_description(description)
    if public is not None:
        playlist.public = public
    changed(playlist)
    session.flush()
    return playlist


def delete_playlist(session: Session, *, playlist_id: int, viewer: Viewer) -> None:
    """Delete a playlist and its entries (the owner, or an administrator)."""
    playlist = for_change(session, playlist_id=playlist_id, viewer=viewer, deleting=True)
    session.delete(playlist)
    session.flush()


def duplicate_playlist(
    session: Session, *, playlist_id: int, viewer: Viewer, name: str | None = None, public: bool = False
) -> Playlist:
    """A copy of a playlist the viewer may read, owned by the viewer, with every entry in the same order
    (unavailable ones too: the copy is what the original holds). One INSERT ... SELECT copies the entries;
    the totals are counted from the copy itself, so a change made to the original meanwhile cannot make
    them disagree with the entries."""
    source = readable(session, playlist_id=playlist_id, viewer=viewer)
    copy = create_playlist(
        session,
        viewer=viewer,
        name=name if name is not None else _copy_name(source.name),
        description=source.description,
        public=public,
    )
    columns = (
        PlaylistEntry.playlist_id,
        PlaylistEntry.track_id,
        PlaylistEntry.position,
        PlaylistEntry.duration_ms,
        PlaylistEntry.added_at,
    )
    rows = select(
        literal(copy.id, PlaylistEntry.playlist_id.type).label("playlist_id"),
        PlaylistEntry.track_id,
        PlaylistEntry.position,
        PlaylistEntry.duration_ms,
        PlaylistEntry.added_at,
    ).where(PlaylistEntry.playlist_id == source.id)
    session.execute(insert(PlaylistEntry).from_select([c.key for c in columns], rows))
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(PlaylistEntry.duration_ms), 0)).where(
            PlaylistEntry.playlist_id == copy.id
        )
    ).one()
    copy.track_count, copy.duration_ms = count, total
    session.flush()
    return copy


def _copy_name(name: str) -> str:
    return f"{name} (copy)" if len(name) + 7 <= MAX_NAME else name[: MAX_NAME - 7] + " (copy)"
