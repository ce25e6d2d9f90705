"""HTTP for rights management (admins): list, grant and revoke a track's rights."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from cadenza.catalog.models import Track
from cadenza.db.engine import transaction
from cadenza.errors import InvalidInput, NotFound
from cadenza.rights import service
from cadenza.rights.models import TrackRight
from cadenza.web.deps import AdminUser, AppState, Id

router = APIRouter(prefix="/api", tags=["rights"])


class RightIn(BaseModel):
    right_type: str = Field(description="stream, download or sync")
    territory: str | None = Field(default=None, description="ISO 3166-1 alpha-2; null = worldwide")
    holder: str = Field(min_length=1, max_length=500, description="rights holder name")
    expires_at: datetime | None = None
    share_pct: Decimal = Field(default=Decimal("100"), gt=0, le=100, decimal_places=2)


class RightOut(BaseModel):
    id: int
    track_id: int
    right_type: str
    territory: str | None
    holder: str | None
    expires_at: datetime | None
    share_pct: Decimal

    @classmethod
    def of(cls, r: TrackRight) -> RightOut:
        return cls(
            id=r.id,
            track_id=r.track_id,
            right_type=r.right_type.value,
            territory=r.territory,
            holder=r.holder.name if r.holder else None,
            expires_at=r.expires_at,
            share_pct=r.share_pct,
        )


@router.get("/tracks/{track_id}/rights", response_model=list[RightOut])
def list_rights(track_id: Id, state: AppState, _: AdminUser) -> list[RightOut]:
    with state.c.sessions() as s:
        if s.get(Track, track_id) is None:
            raise NotFound(f"track {track_id} not found")
        rows = s.scalars(select(TrackRight).where(TrackRight.track_id == track_id).order_by(TrackRight.id))
        return [RightOut.of(r) for r in rows]


@router.post("/tracks/{track_id}/rights", status_code=201, response_model=RightOut)
def grant_right(track_id: Id, body: RightIn, state: AppState, _: AdminUser) -> RightOut:
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise InvalidInput("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)")
    with transaction(state.c.sessions) as s:
        if s.get(Track, track_id) is None:
            raise NotFound(f"track {track_id} not found")
        holder = service.get_or_create_holder(s, name=body.holder.strip())
        right = service.grant(
            s,
            track_id=track_id,
            right_type=body.right_type,
            territory=body.territory,
            holder_id=holder.id,
            expires_at=body.expires_at,
            share_pct=body.share_pct,
        )
        s.refresh(right)
        out = RightOut.of(right)
    state.track_media.drop(track_id)
    return out


@router.delete("/rights/{right_id}", status_code=204)
def revoke_right(right_id: Id, state: AppState, _: AdminUser) -> None:
    with transaction(state.c.sessions) as s:
        right = s.get(TrackRight, right_id)
        if right is None:
            raise NotFound(f"right {right_id} not found")
        track_id = right.track_id
        s.delete(right)
    state.track_media.drop(track_id)
