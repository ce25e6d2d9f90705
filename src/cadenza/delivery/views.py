"""HTTP for delivery: the stream endpoint (rights, territory, signed URLs)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cadenza.db.base import utcnow
from cadenza.delivery import service
from cadenza.web.deps import CallerDep, Id

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
async def stream(track_id: Id, caller: CallerDep) -> Response:
    """Signed URLs to play a track: HLS master (short-lived start token), MP3 with a download right,
    FLAC for hi-fi listeners, the waveform; opens a playback session."""
    state, user, ip = caller.state, caller.user, caller.ip
    settings = state.c.settings

    def load() -> service.TrackMedia | None:
        with state.c.sessions() as s:
            return service.load_track_media(s, track_id=track_id)

    media = state.track_media.get(track_id)
    if media is None:
        media = await run_in_threadpool(load)
        if media is not None:
            state.track_media.put(track_id, media)
    grant, playback = service.authorize_stream(
        media,
        track_id=track_id,
        listener=service.Listener(user.id, user.tier),
        ip=ip,
        territory=state.geo.territory(ip),
        keyring=state.keyring,
        start_ttl=settings.signing.start_ttl_sec,
        cfg=settings.delivery,
        at=utcnow(),
        bind_ip=settings.signing.bind_ip,
    )
    state.recorder.record(playback)
    # The grant is already exactly StreamOut's shape; skipping a second validation keeps this path lean.
    return Response(content=json.dumps(grant.__dict__), media_type="application/json")
