"""HTTP for delivery: the stream endpoint (rights, territory, signed URLs)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from cadenza.db.engine import transaction
from cadenza.delivery import service
from cadenza.web.deps import AppState, ClientIP, CurrentUser

router = APIRouter(prefix="/api/tracks", tags=["delivery"])


class StreamOut(BaseModel):
    track_id: int
    session_id: str
    territory: str | None
    duration_sec: float
    hls_url: str
    mp3_url: str | None
    flac_url: str | None
    waveform_url: str | None
    expires_at: int
    hifi_unavailable_reason: str | None


@router.get(
    "/{track_id}/stream",
    response_model=StreamOut,
    responses={451: {"description": "not available in the listener's territory"}},
)
def stream(track_id: int, state: AppState, user: CurrentUser, ip: ClientIP) -> StreamOut:
    """Signed URLs to play a track: HLS master (short-lived start token), MP3 with a download right,
    FLAC for hi-fi listeners, the waveform; opens a playback session."""
    settings = state.c.settings
    with transaction(state.c.sessions) as s:
        grant = service.authorize_stream(
            s,
            user=user,
            track_id=track_id,
            ip=ip,
            territory=state.geo.territory(ip),
            keyring=state.keyring,
            start_ttl=settings.signing.start_ttl_sec,
            cfg=settings.delivery,
            bind_ip=settings.signing.bind_ip,
        )
    return StreamOut(**grant.__dict__)
