"""Playback tables: sessions opened by the stream endpoint and the events players report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CHAR, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cadenza.db.base import Base, BigId, UTCDateTime, utcnow


class PlaybackSession(Base):
    __tablename__ = "playback_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    territory: Mapped[str | None] = mapped_column(CHAR(2))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlaybackEvent(Base):
    """One player report (start, progress, pause, seek, stop) with the seconds played since the last one."""

    __tablename__ = "playback_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("playback_sessions.id", ondelete="CASCADE"))
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    position_ms: Mapped[int | None] = mapped_column(Integer)
    seconds_played: Mapped[float] = mapped_column(Float, default=0.0)
    quality: Mapped[str | None] = mapped_column(String(32))
    territory: Mapped[str | None] = mapped_column(CHAR(2))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_playback_events_track_time", "track_id", "occurred_at"),)
