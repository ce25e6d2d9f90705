"""Protection tables: which tracks an administrator protects, and their content keys (wrapped)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CHAR, Boolean, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cadenza.db.base import Base, BigId, UTCDateTime, utcnow


class ProtectionPolicy(Base):
    """An administrator's decision that a track is delivered encrypted only (`protected`)."""

    __tablename__ = "protection_policies"

    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContentKey(Base):
    """One content key of a track: `wrapped` is nonce + AES-256-GCM(master key, key), bound to the KID
    and track. The newest row without `retired_at` packages new media; older rows still answer licences
    for media published under them until retired. Losing these rows makes the media unplayable."""

    __tablename__ = "content_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    kid: Mapped[str] = mapped_column(CHAR(32), unique=True)  # hex
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_content_keys_track", "track_id"),)
