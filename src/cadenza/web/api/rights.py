"""Rights management (administrators): list, grant and revoke a track's rights."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from cadenza.db.engine import transaction
from cadenza.rights import service
from cadenza.rights.models import TrackRight
from cadenza.web.deps import AppState, Id, admin_router
from cadenza.web.validation import Name, text_type

router = admin_router(prefix="/api", tags=["rights"])


class RightIn(BaseModel):
    right_type: text_type(16) = Field(description="stream, download or sync")
    territory: text_type(16) | None = Field(default=None, description="ISO 3166-1 alpha-2; null = worldwide")
    holder: Name = Field(description="rights holder name")
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
def list_rights(track_id: Id, state: AppState) -> list[RightOut]:
    with state.c.sessions() as s:
        return [RightOut.of(r) for r in service.list_rights(s, track_id=track_id)]


@router.post("/tracks/{track_id}/rights", status_code=201, response_model=RightOut)
def grant_right(track_id: Id, body: RightIn, state: AppState) -> RightOut:
    with transaction(state.c.sessions) as s:
        right = service.grant_right(s, track_id=track_id, **body.model_dump(), caches=state.track_media)
        return RightOut.of(right)


@router.delete("/rights/{right_id}", status_code=204)
def revoke_right(right_id: Id, state: AppState) -> None:
    with transaction(state.c.sessions) as s:
        service.revoke_right(s, right_id=right_id, caches=state.track_media)
