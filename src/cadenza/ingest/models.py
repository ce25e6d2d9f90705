"""Bulk imports (`cadenza import`): a batch and one durable row per file, so an import killed half-way
resumes where it stopped without importing any file twice (ingest/bulk.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cadenza.db.base import Base, BigId, UTCDateTime, utcnow


class ImportBatch(Base):
    """One bulk import, named so that running the same command again resumes it."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportItem(Base):
    """One file of a batch. `state`: `pending` (not handed to ingest yet), `queued` (its track exists:
    written in the same transaction as the track, so a kill can never leave one without the other),
    `duplicate` (the same bytes as an earlier file of the batch: not imported again), `rejected` (the
    file could not be accepted: `reason`). What became of a queued file is its track's status."""

    __tablename__ = "import_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(4096))
    size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    track_id: Mapped[int | None] = mapped_column(ForeignKey("tracks.id", ondelete="SET NULL"))
    duplicate_of_item: Mapped[int | None] = mapped_column(BigId)
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("batch_id", "path", name="uq_import_items_batch_path"),
        Index("ix_import_items_batch_state", "batch_id", "state", "position"),
        Index("ix_import_items_batch_checksum", "batch_id", "checksum"),
        Index("ix_import_items_track_id", "track_id"),
    )
