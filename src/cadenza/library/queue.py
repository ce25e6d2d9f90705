"""The play queue a listener saves on one device and restores on another: the tracks in order, which one
is playing and where in it, which device saved it and when.

One row per listener, written whole: the last device to save wins, as in every player that syncs a queue
(a queue is a snapshot of one device's state, not a document two devices edit together). `version`
rises with every save, so a device that restores it can tell whether it has changed since."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.catalog.models import Track
from cadenza.catalog.visibility import Viewer, playable_ids, track_condition
from cadenza.db.base import utcnow
from cadenza.db.lists import one_of
from cadenza.errors import InvalidInput, NotFound
from cadenza.library.limits import MAX_DEVICE, MAX_QUEUE
from cadenza.library.marks import upsert_into
from cadenza.library.models import PlayQueue
from cadenza.library.playlists import signed_in
from cadenza.library.tracks import TrackInfo, track_info

MAX_POSITION_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class QueueEntry:
    track: TrackInfo
    available: bool


@dataclass(frozen=True)
class Queue:
    entries: list[QueueEntry]
    current_index: int
    position_ms: int
    device: str
    version: int
    updated_at: datetime


def save_queue(
    session: Session,
    *,
    viewer: Viewer,
    track_ids: Sequence[int],
    current_index: int,
    position_ms: int,
    device: str,
) -> tuple[int, datetime]:
    """Replace the listener's saved queue; returns its new version and time."""
    user_id = signed_in(viewer)
    if len(track_ids) > MAX_QUEUE:
        raise InvalidInput(f"a queue holds at most {MAX_QUEUE:,} tracks (got {len(track_ids):,})")
    if not (0 <= current_index < len(track_ids) or current_index == 0 == len(track_ids)):
        raise InvalidInput(f"current_index must point into the queue (0 to {max(len(track_ids) - 1, 0)})")
    if not 0 <= position_ms <= MAX_POSITION_MS:
        raise InvalidInput("position_ms must be between 0 and 86,400,000 (24 hours)")
    name = device.strip()
    if not 1 <= len(name) <= MAX_DEVICE or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput(f"device is a name of 1 to {MAX_DEVICE} printable characters")
    wanted = sorted(set(track_ids))
    seen = set(
        session.scalars(select(Track.id).where(one_of(session, Track.id, wanted), track_condition(viewer)))
    )
    missing = [t for t in wanted if t not in seen]
    if missing:
        raise NotFound(f"track {missing[0]} not found")
    now = utcnow()
    stmt = upsert_into(session, PlayQueue).values(
        user_id=user_id,
        track_ids=list(track_ids),
        current_index=current_index,
        position_ms=position_ms,
        device=name,
        version=1,
        updated_at=now,
    )
    fresh = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={
            "track_ids": fresh.track_ids,
            "current_index": fresh.current_index,
            "position_ms": fresh.position_ms,
            "device": fresh.device,
            "updated_at": fresh.updated_at,
            "version": PlayQueue.__table__.c.version + 1,
        },
    )
    session.execute(stmt)
    version = session.scalar(select(PlayQueue.version).where(PlayQueue.user_id == user_id))
    assert version is not None
    return version, now


def get_queue(session: Session, *, viewer: Viewer, at: datetime) -> Queue | None:
    """The saved queue with each track's availability, or None if none was saved. Tracks deleted from the
        catalog since are left out; the current index follows the track it pointed at (or, if that one went,
    the next, from its start)."""
    user_id = signed_in(viewer)
    row = session.get(PlayQueue, user_id)
    if row is None:
        return None
    info = track_info(session, track_ids=row.track_ids)
    playable = playable_ids(session, viewer=viewer, track_ids=info, at=at)
    kept = [(i, t) for i, t in enumerate(row.track_ids) if t in info]
    current = min(sum(1 for i, _ in kept if i < row.current_index), max(len(kept) - 1, 0))
    still_there = any(i == row.current_index for i, _ in kept)
    entries = [QueueEntry(info[t], t in playable) for _, t in kept]
    position = row.position_ms if still_there else 0
    return Queue(entries, current, position, row.device, row.version, row.updated_at)
