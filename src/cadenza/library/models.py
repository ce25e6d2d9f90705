"""Library tables: playlists and their entries, a listener's marks (stars and ratings) on tracks, releases
and artists, and the saved play queue.

These replace the seed's unused `Playlist`, `PlaylistTrack` and `LibraryEntry` (migration 0006 moves any
rows across). Why each table looks the way it does:

- `playlists` keeps `track_count` and `duration_ms` itself. Summing a 10,000-entry playlist's durations
  through `tracks` took 29 ms (median) on PostgreSQL here, three times the budget of a whole page; every
  change to the entries already locks the playlist row (see `entries.py`), so keeping the totals there is
  free and exact. `version` goes up by one with every change, so a device can tell its copy is stale.
- `playlist_entries` has its own id (a track can be listed twice) and a gapped BIGINT `position`, unique
  per playlist (`positions.py`); `duration_ms` is the track's length when added, so the playlist's total
  is always the sum of its entries' (a later re-transcode or deletion of the track cannot skew it). A track
  deleted by an administrator stays as a `deleted` tombstone (docs/catalog-admin.md), so its entries keep
  pointing at it and show unavailable, like a track whose rights ended; `track_id` becomes NULL only if
  the row itself is ever removed from the database.
- `*_marks` hold a star (`starred_at`, a favourite) and a rating (1-5) per listener and item, one row per
  pair while either is set, as Navidrome's annotations do: the library listing shows both from one read.
  One table per kind, so each has a real foreign key that cascades when its item goes.
- `play_queues` is read and written whole by one listener, so its track ids are one JSON list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from cadenza.db.base import Base, BigId, UTCDateTime, utcnow


class Playlist(Base):
    __tablename__ = "playlists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    track_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    version: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("length(name) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint("track_count >= 0", name="track_count_positive"),
        Index("ix_playlists_owner", "owner_id", "id"),
    )


class PlaylistEntry(Base):
    __tablename__ = "playlist_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"))
    track_id: Mapped[int | None] = mapped_column(ForeignKey("tracks.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # The order of a playlist and the index its pages are read from.
        UniqueConstraint("playlist_id", "position", name="uq_playlist_entries_playlist_position"),
        Index("ix_playlist_entries_track_id", "track_id"),
    )


class TrackMark(Base):
    __tablename__ = "track_marks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    starred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(SmallInteger)

    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("starred_at IS NOT NULL OR rating IS NOT NULL", name="starred_or_rated"),
        Index("ix_track_marks_user_starred", "user_id", "starred_at"),
        Index("ix_track_marks_track_id", "track_id"),
    )


class ReleaseMark(Base):
    __tablename__ = "release_marks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True)
    starred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(SmallInteger)

    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("starred_at IS NOT NULL OR rating IS NOT NULL", name="starred_or_rated"),
        Index("ix_release_marks_user_starred", "user_id", "starred_at"),
        Index("ix_release_marks_release_id", "release_id"),
    )


class ArtistMark(Base):
    __tablename__ = "artist_marks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True)
    starred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(SmallInteger)

    __table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("starred_at IS NOT NULL OR rating IS NOT NULL", name="starred_or_rated"),
        Index("ix_artist_marks_user_starred", "user_id", "starred_at"),
        Index("ix_artist_marks_artist_id", "artist_id"),
    )


class PlayQueue(Base):
    """What a listener was playing, saved by one device and restored by another."""

    __tablename__ = "play_queues"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    track_ids: Mapped[list[int]] = mapped_column(JSON)
    current_index: Mapped[int] = mapped_column(Integer, default=0)
    position_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    device: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
