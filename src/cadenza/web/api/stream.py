"""Delivery: the stream and download endpoints (rights, territory, signed URLs).

The stream route is the hot one: it authenticates itself (`caller_of`) instead of through a router
dependency, which `web.app` accepts only for routes declared with `lean_route`."""

from __future__ import annotations

import json
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from cadenza.bootstrap import App
from cadenza.db.base import utcnow
from cadenza.delivery import service, signing
from cadenza.errors import InvalidInput
from cadenza.web.deps import CallerDep, Id, caller_of, lean_route, path_id
from cadenza.web.observability import GRANT_TERRITORY

router = APIRouter(prefix="/api/tracks", tags=["delivery"])


async def _media(state: App, track_id: int) -> service.TrackMedia | None:
    """A track's delivery facts from the per-process cache (refreshed ahead in the background); a miss
    is read in the next batch of misses."""
    return await state.track_media.get_async(track_id)


def _wants_start(request: Request) -> bool:
    """`?inline=start`: the player asks for the start pieces (delivery/start.py). Other clients send no
    query, and this costs them one empty check."""
    query = request.scope.get("query_string")
    if not query:
        return False
    values = parse_qs(query.decode("latin-1"), keep_blank_values=True).get("inline")
    if not values:
        return False
    if values != ["start"]:
        raise InvalidInput("query.inline: the only value is 'start'")
    return True


_STREAM_DOC = lean_route("track_id")
_STREAM_DOC["parameters"] = [
    *_STREAM_DOC["parameters"],  # type: ignore[misc]
    {
        "name": "inline",
        "in": "query",
        "required": False,
        "description": "start: the grant also carries `start` (the signed master playlist, the lightest "
        "level's playlist and its init section in base64), so that the next request is the first segment",
        "schema": {"type": "string", "enum": ["start"]},
    },
]


@router.get(
    "/{track_id}/stream",
    response_model=service.StreamGrant,
    responses={
        401: {"description": "no valid bearer token"},
        404: {"description": "no such ready track"},
        422: {"description": "the track id is not a valid id"},
        451: {"description": "not available in the listener's territory"},
        503: {"description": "playback cannot be recorded right now (Retry-After)"},
    },
    openapi_extra=_STREAM_DOC,
)
async def stream(request: Request) -> Response:
    """Signed URLs to play a track: HLS master (short-lived start token), MP3 with a download right,
    FLAC for hi-fi listeners, the waveform; opens a playback session."""
    track_id = path_id(request, "track_id")
    caller = await caller_of(request)
    state, user, ip = caller.state, caller.user, caller.ip
    settings = state.c.settings

    wants_start = _wants_start(request)
    territory = state.geo.territory(ip)
    request.scope[GRANT_TERRITORY] = territory or "unknown"  # for the grant counter (web/observability.py)
    media = await _media(state, track_id)
    start = await state.start_pieces.get(media.media_prefix) if wants_start and media is not None else None
    grant, playback = service.authorize_stream(
        media,
        track_id=track_id,
        listener=service.Listener(user.id, user.tier),
        ip=ip,
        territory=territory,
        keyring=state.keyring,
        start_ttl=settings.signing.start_ttl_sec,
        cfg=settings.delivery,
        at=utcnow(),
        bind_ip=settings.signing.bind_ip,
        start=start,
    )
    state.recorder.record(playback)
    # The grant is already exactly StreamOut's shape; skipping a second validation keeps this path lean.
    body = grant.__dict__ if grant.start is None else {**grant.__dict__, "start": grant.start.__dict__}
    return Response(content=json.dumps(body), media_type="application/json")


@router.get(
    "/{track_id}/download",
    status_code=307,
    responses={
        307: {"description": "redirect to a signed URL of the file (embedded mode)"},
        200: {"description": "the file, moved by nginx via X-Accel-Redirect (production mode)"},
        403: {
            "description": "a protected track (no clear file is handed out: it plays in the web player), "
            "or FLAC asked for below the hi-fi tier",
        },
        451: {"description": "no download right in the listener's territory"},
    },
)
async def download(
    track_id: Id,
    caller: CallerDep,
    quality: Annotated[Literal["mp3_320", "flac"], Query(description="the file to download")] = "mp3_320",
    replaygain: Annotated[
        bool,
        Query(
            description="MP3 only: with ReplayGain 2.0 tags (ID3v2 TXXX REPLAYGAIN_TRACK_GAIN/PEAK, "
            "REPLAYGAIN_ALBUM_GAIN/PEAK) from the track's EBU R128 loudness and its release's current one"
        ),
    ] = False,
) -> Response:
    """Download a file for offline use: MP3 320 with a download right, FLAC also needs the hi-fi tier."""
    state, ip = caller.state, caller.ip
    key = service.authorize_download(
        await _media(state, track_id),
        track_id=track_id,
        listener=service.Listener(caller.user.id, caller.user.tier),
        territory=state.geo.territory(ip),
        quality=quality,
        at=utcnow(),
    )
    if replaygain:
        key = await run_in_threadpool(
            service.replaygain_download, state.c.sessions, store=state.c.store, track_id=track_id, key=key
        )
    filename = f"track-{track_id}{service.DOWNLOADS[quality]}"
    if state.c.settings.delivery.mode == "x-accel":
        # Python authorized; nginx moves the bytes from its shield (deploy/nginx/cadenza.conf, /_accel/).
        return Response(
            headers={
                "X-Accel-Redirect": f"/_accel/{key}",
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "private, no-store",
            }
        )
    settings = state.c.settings
    path = signing.signed_path(
        state.keyring,
        key=key,
        depth=0,
        ttl=settings.signing.start_ttl_sec,
        ip=ip if settings.signing.bind_ip else None,
    )
    return RedirectResponse(path, status_code=307, headers={"Cache-Control": "private, no-store"})
