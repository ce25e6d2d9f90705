"""Rights tables: who holds which right to a track, where, until when, and for what share."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CHAR, CheckConstraint, Enum, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cadenza.db.base import Base, BigId, UTCDateTime, utcnow


class RightType(enum.StrEnum):
    stream = "stream"
    download = "download"
    sync = "sync"


class RightsHolder(Base):
    __tablename__ = "rights_holders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrackRight(Base):
    """One right. territory NULL means worldwide; expires_at NULL means no expiry."""

    __tablename__ = "track_rights"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    territory: Mapped[str | None] = mapped_column(CHAR(2))
    right_type: Mapped[RightType] = mapped_column(
        Enum(RightType, name="right_type", native_enum=False, length=16)
    )
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("rights_holders.id", ondelete="RESTRICT"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    share_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("100.00"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    holder: Mapped[RightsHolder | None] = relationship()

    __table_args__ = (
        CheckConstraint("share_pct > 0 AND share_pct <= 100", name="share_range"),
        CheckConstraint("territory IS NULL OR length(territory) = 2", name="territory_length"),
        Index("ix_track_rights_lookup", "track_id", "right_type", "territory"),
    )
