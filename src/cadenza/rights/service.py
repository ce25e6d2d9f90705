"""Rights service functions: load a track's rights and apply the rules in `policy`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.db.base import utcnow
from cadenza.errors import InvalidInput
from cadenza.rights import policy
from cadenza.rights.models import RightsHolder, RightType, TrackRight


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
