"""Playback tables: sessions opened by the stream endpoint, the events players report, and the daily
rollups that stream counts and royalty reports are read from (see README.md beside this file)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CHAR, BigInteger, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cadenza.db.base import Base, BigId, UTCDateTime, utcnow


class PlaybackSession(Base):
    """One play of one track, opened by the stream endpoint; one stream once it reaches the threshold.

    `day` (UTC date of `started_at`) is the day the session is counted on, whenever its events arrive;
    `user_tier` is the listener's tier when the session started."""

    __tablename__ = "playback_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    territory: Mapped[str | None] = mapped_column(CHAR(2))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    day: Mapped[date] = mapped_column(Date)
    user_tier: Mapped[str | None] = mapped_column(String(16))
    quality: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_playback_sessions_day", "day"),
        # for the cascades when a track or a listener is deleted; a listener's one also reads their
        # recently played tracks newest first (cadenza.library.history)
        Index("ix_playback_sessions_track_id", "track_id"),
        Index("ix_playback_sessions_user_started", "user_id", "started_at"),
    )


class PlaybackEvent(Base):
    """One player report (start, progress, pause, seek, stop) with the seconds played since the last one.

    `occurred_at` is on the server's clock (corrected by the batch's `sent_at`); `elapsed_ms` is its
    distance from the session start and `played_ms` the seconds claimed, in whole milliseconds, so that
    counting is integer arithmetic and gives the same answer on every database.

    The session is the authority on track and listener: `track_id` is a copy made from the session the
    event was checked against (no per-row foreign-key check: deleting a track still deletes its events
    through the session), and `user_id` stays NULL, so erasing a listener touches sessions only. The
    player's event id is unique per session: that index keeps each session's events together, so inserts
    touch one hot page per active session (a global index of random UUIDs touches a random page per
    event, and after each checkpoint writes it to the WAL in full); it also serves the cascade from a
    deleted session."""

    __tablename__ = "playback_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    session_id: Mapped[str] = mapped_column(ForeignKey("playback_sessions.id", ondelete="CASCADE"))
    track_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    position_ms: Mapped[int | None] = mapped_column(Integer)
    seconds_played: Mapped[float] = mapped_column(Float, default=0.0)
    quality: Mapped[str | None] = mapped_column(String(32))
    territory: Mapped[str | None] = mapped_column(CHAR(2))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    session_day: Mapped[date] = mapped_column(Date)
    elapsed_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    played_ms: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    playback_rate: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("session_id", "event_id", name="uq_playback_events_session_event"),
        Index("ix_playback_events_track_time", "track_id", "occurred_at"),
        # The counting scan: a day's sessions, each one's events in time order, without touching the table.
        Index(
            "ix_playback_events_counting",
            "session_day",
            "session_id",
            "elapsed_ms",
            postgresql_include=["played_ms", "quality"],
        ),
    )


class PlaybackDaily(Base):
    """Daily rollup: sessions, counted and discarded streams and credited listening time per day, track,
    territory ("XX" when unknown), quality and listener tier. Rebuilt per day from raw events.

    Derived data, rebuilt wholesale, so no per-row foreign-key check on track_id (it costs a third of a
    rebuild); the rows of a deleted track stay until their day is recounted, and reads join `tracks`."""

    __tablename__ = "playback_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    track_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    territory: Mapped[str] = mapped_column(CHAR(2), primary_key=True)
    quality: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    sessions: Mapped[int] = mapped_column(Integer)
    streams: Mapped[int] = mapped_column(Integer)
    discarded: Mapped[int] = mapped_column(Integer)
    played_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index(
            "ix_playback_daily_territory",
            "territory",
            "day",
            "track_id",
            postgresql_include=["streams", "discarded"],
        ),
    )


class PlaybackDiscard(Base):
    """Anti-fraud audit: a listener's streams of one track on one day beyond the daily cap."""

    __tablename__ = "playback_discards"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    qualified: Mapped[int] = mapped_column(Integer)
    discarded: Mapped[int] = mapped_column(Integer)


class PlaybackDirtyDay(Base):
    """A day whose rollup is out of date: one row per write that touched it, deleted by the refresh that
    saw it (append-only, so writers never wait for each other or for a refresh)."""

    __tablename__ = "playback_dirty_days"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_playback_dirty_days_day", "day"),)


class PlaybackDirtySession(Base):
    """A session with events the rollups have not seen: one row per write that touched it (append-only,
    like PlaybackDirtyDay), taken and deleted by the incremental refresh, which recounts only these
    sessions. `day` is the session's day, so its events are read off the counting index."""

    __tablename__ = "playback_dirty_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36))
    day: Mapped[date] = mapped_column(Date)


class PlaybackSessionCount(Base):
    """Each counted session's outcome, as the rollups last saw it: its dimensions, credited time, whether
    it reached the threshold (`qualified`) and whether it counts or was discarded by the daily cap.

    What makes a refresh incremental: a recounted session's old row is subtracted from the rollups and
    its new one added, and only its listener's sessions of that track and day are ranked again for the
    cap. Derived data like `playback_daily` (no foreign keys, rebuilt with its day); `started_at` is
    copied so the cap's order needs no join."""

    __tablename__ = "playback_session_counts"

    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    track_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int | None] = mapped_column(BigId)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    territory: Mapped[str] = mapped_column(CHAR(2))
    user_tier: Mapped[str] = mapped_column(String(16))
    quality: Mapped[str] = mapped_column(String(32))
    credited_ms: Mapped[int] = mapped_column(BigInteger)
    qualified: Mapped[int] = mapped_column(Integer)
    counted: Mapped[int] = mapped_column(Integer)
    over_cap: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # the cap's groups (a listener's sessions of one track on one day), and a day's rows for a recount
        Index("ix_playback_session_counts_group", "day", "user_id", "track_id"),
    )
