"""The protection policy: set by an administrator per track, read by packaging and delivery."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cadenza.catalog.models import Track
from cadenza.db.base import utcnow
from cadenza.db.engine import after_commit
from cadenza.errors import NotFound
from cadenza.protection.models import ContentKey, ProtectionPolicy
from cadenza.rights.service import TrackCache


def set_policy(
    session: Session,
    *,
    track_id: int,
    protected: bool,
    by_user: int | None,
    caches: TrackCache | None = None,
) -> ProtectionPolicy:
    """Record the policy. A track already published clear is re-packaged encrypted by `cadenza
    repackage` (no re-encode); a track ingested after this is encrypted at its transcode stage. From
    the commit on, no clear download of it is handed out (`delivery.service.TrackMedia.withheld`): the
    track's cached delivery facts are dropped then (other processes: within their TTL)."""
    if session.get(Track, track_id) is None:
        raise NotFound(f"track {track_id} not found")
    policy = session.get(ProtectionPolicy, track_id)
    if policy is None:
        policy = ProtectionPolicy(track_id=track_id)
        session.add(policy)
    policy.protected = protected
    policy.updated_by = by_user
    policy.updated_at = utcnow()
    session.flush()
    if caches is not None:
        drop = caches.drop
        after_commit(session, lambda: drop(track_id))
    return policy


def is_protected(session: Session, *, track_id: int) -> bool:
    return bool(
        session.scalar(select(ProtectionPolicy.protected).where(ProtectionPolicy.track_id == track_id))
    )


def protected_ids(session: Session, *, track_ids: list[int]) -> set[int]:
    return set(
        session.scalars(
            select(ProtectionPolicy.track_id).where(
                ProtectionPolicy.track_id.in_(track_ids), ProtectionPolicy.protected.is_(True)
            )
        )
    )


def forget_keys(session: Session, *, track_id: int) -> int:
    """Delete a track's content keys, in the caller's transaction (the track is being deleted: its media
    are gone, `catalog.service.delete_track`); copies of its encrypted segments left in a cache or on a
    disk can no longer be opened, and no licence names them. Its policy row stays, as a record."""
    return int(session.execute(delete(ContentKey).where(ContentKey.track_id == track_id)).rowcount or 0)
