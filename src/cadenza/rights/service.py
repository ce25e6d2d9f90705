"""Rights service functions: load a track's rights and apply the rules in `policy`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.db.base import Base, utcnow
from cadenza.db.engine import after_commit
from cadenza.errors import InvalidInput, NotFound
from cadenza.rights import policy
from cadenza.rights.models import RightsHolder, RightType, TrackRight


class TrackCache(Protocol):
    """A per-process cache keyed by track id that must forget a track whose rights changed."""

    def drop(self, key: int) -> None: ...


def rights_for(session: Session, *, track_id: int) -> list[policy.Right]:
    rows = session.scalars(select(TrackRight).where(TrackRight.track_id == track_id))
    return [policy.Right(r.right_type.value, r.territory, r.expires_at) for r in rows]


def can_stream(session: Session, *, track_id: int, territory: str | None, at: datetime | None = None) -> bool:
    return policy.can_stream(rights_for(session, track_id=track_id), territory, at or utcnow())


def has_right(
    session: Session, *, track_id: int, right_type: str, territory: str | None, at: datetime | None = None
) -> bool:
    return policy.has_right(
        rights_for(session, track_id=track_id), right_type=right_type, territory=territory, at=at or utcnow()
    )


def get_or_create_holder(session: Session, *, name: str) -> RightsHolder:
    holder = session.scalar(select(RightsHolder).where(RightsHolder.name == name))
    if holder is None:
        holder = RightsHolder(name=name)
        session.add(holder)
        session.flush()
    return holder


def grant(
    session: Session,
    *,
    track_id: int,
    right_type: str,
    territory: str | None = None,
    holder_id: int | None = None,
    expires_at: datetime | None = None,
    share_pct: Decimal = Decimal("100"),
) -> TrackRight:
    """Record a right; the territory is validated and normalised."""
    try:
        kind = RightType(right_type)
    except ValueError:
        raise InvalidInput(f"right type {right_type!r} is not one of stream, download, sync") from None
    if not (Decimal(0) < share_pct <= Decimal(100)):
        raise InvalidInput("share must be above 0 and at most 100 percent")
    right = TrackRight(
        track_id=track_id,
        right_type=kind,
        territory=policy.normalize_territory(territory),
        holder_id=holder_id,
        expires_at=expires_at,
        share_pct=share_pct,
    )
    session.add(right)
    session.flush()
    return right


def _require_track(session: Session, track_id: int) -> None:
    """The track a right names must exist. Read through the table the foreign key points at: the
    catalog builds on rights (visibility), so rights imports nothing from it."""
    tracks = Base.metadata.tables["tracks"]
    if session.scalar(select(tracks.c.id).where(tracks.c.id == track_id)) is None:
        raise NotFound(f"track {track_id} not found")


def list_rights(session: Session, *, track_id: int) -> list[TrackRight]:
    _require_track(session, track_id)
    return list(
        session.scalars(select(TrackRight).where(TrackRight.track_id == track_id).order_by(TrackRight.id))
    )


def grant_right(
    session: Session,
    *,
    track_id: int,
    right_type: str,
    territory: str | None,
    holder: str,
    expires_at: datetime | None,
    share_pct: Decimal,
    caches: TrackCache,
) -> TrackRight:
    """An administrator's grant: the track must exist, the holder is found or created by name, and the
    track's cached delivery facts are dropped once the grant commits (other processes: within their TTL)."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidInput("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)")
    _require_track(session, track_id)
    name = " ".join(holder.split())
    if not name:
        raise InvalidInput("holder: the rights holder's name is empty")
    right = grant(
        session,
        track_id=track_id,
        right_type=right_type,
        territory=territory,
        holder_id=get_or_create_holder(session, name=name).id,
        expires_at=expires_at,
        share_pct=share_pct,
    )
    session.refresh(right)
    after_commit(session, lambda: caches.drop(track_id))
    return right


def revoke_right(session: Session, *, right_id: int, caches: TrackCache) -> None:
    """Delete a right; the track's cached delivery facts are dropped once the revocation commits, so this
    process refuses the next stream at once."""
    right = session.get(TrackRight, right_id)
    if right is None:
        raise NotFound(f"right {right_id} not found")
    track_id = right.track_id
    session.delete(right)
    after_commit(session, lambda: caches.drop(track_id))
