"""Bookmarks: where a listener stopped in a track, to resume there later (long mixes, live sets, spoken
word). One per listener and track, written whole: the last save wins, as Subsonic defines them.

A bookmark names a track the listener may see (`catalog.visibility`); tracks hidden since are left out
of the list (the row stays, and comes back if the track does). Deleting the track or the listener
deletes the bookmark."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from cadenza.catalog.models import Track
from cadenza.catalog.visibility import Viewer, track_condition
from cadenza.db.base import Base, UTCDateTime, utcnow
from cadenza.errors import InvalidInput, NotFound
from cadenza.library.marks import upsert_into
from cadenza.library.playlists import signed_in

MAX_POSITION_MS = 7 * 24 * 3600 * 1000  # a week: longer than any track
MAX_COMMENT = 1000
MAX_BOOKMARKS = 1000  # per listener: the list is read whole


class Bookmark(Base):
    __tablename__ = "bookmarks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    position_ms: Mapped[int] = mapped_column(BigInteger)
    comment: Mapped[str | None] = mapped_column(String(MAX_COMMENT))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # the cascade from a deleted track
    __table_args__ = (Index("ix_bookmarks_track_id", "track_id"),)


@dataclass(frozen=True)
class BookmarkInfo:
    track_id: int
    position_ms: int
    comment: str | None
    created_at: datetime
    updated_at: datetime


def save(
    session: Session, *, viewer: Viewer, track_id: int, position_ms: int, comment: str | None
) -> BookmarkInfo:
    """Create or replace the listener's bookmark of a track they may see."""
    user_id = signed_in(viewer)
    if not 0 <= position_ms <= MAX_POSITION_MS:
        raise InvalidInput(f"position must be between 0 and {MAX_POSITION_MS:,} ms")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise InvalidInput(f"a comment is at most {MAX_COMMENT} characters")
    if session.scalar(select(Track.id).where(Track.id == track_id, track_condition(viewer))) is None:
        raise NotFound(f"track {track_id} not found")
    held = session.scalars(
        select(Bookmark.track_id).where(Bookmark.user_id == user_id).limit(MAX_BOOKMARKS + 1)
    ).all()
    if track_id not in held and len(held) >= MAX_BOOKMARKS:
        raise InvalidInput(f"at most {MAX_BOOKMARKS} bookmarks; delete one first")
    now = utcnow()
    stmt = upsert_into(session, Bookmark).values(
        user_id=user_id, track_id=track_id, position_ms=position_ms, comment=comment, created_at=now,
        updated_at=now,
    )  # fmt: skip
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Bookmark.user_id, Bookmark.track_id],
            set_={"position_ms": position_ms, "comment": comment, "updated_at": now},
        )
    )
    session.expire_all()
    row = session.get(Bookmark, (user_id, track_id))
    assert row is not None
    return _info(row)


def remove(session: Session, *, viewer: Viewer, track_id: int) -> None:
    """Delete the listener's bookmark of a track; NotFound when there is none."""
    user_id = signed_in(viewer)
    done = session.execute(delete(Bookmark).where(Bookmark.user_id == user_id, Bookmark.track_id == track_id))
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no bookmark of track {track_id}")


def list_for(session: Session, *, viewer: Viewer) -> list[BookmarkInfo]:
    """The listener's bookmarks of tracks they may still see, most recently saved first."""
    user_id = signed_in(viewer)
    rows = session.scalars(
        select(Bookmark)
        .join(Track, Track.id == Bookmark.track_id)
        .where(Bookmark.user_id == user_id, track_condition(viewer))
        .order_by(Bookmark.updated_at.desc(), Bookmark.track_id)
        .limit(MAX_BOOKMARKS)
    )
    return [_info(r) for r in rows]


def _info(row: Bookmark) -> BookmarkInfo:
    return BookmarkInfo(row.track_id, row.position_ms, row.comment, row.created_at, row.updated_at)
