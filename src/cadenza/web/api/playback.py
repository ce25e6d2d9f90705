"""Playback events from players: a signed-in batch route, and the beacon route (public: each event's
unguessable session id is its credential)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cadenza.bootstrap import App
from cadenza.errors import InvalidInput
from cadenza.web.deps import AppState, CurrentUser, public_router, user_router
from cadenza.web.upload import read_body

router = user_router(tags=["playback"])
public = public_router(tags=["playback"])

MAX_BODY = 1024 * 1024  # 500 events take about 120 KiB; sendBeacon itself stops at 64 KiB

_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "session_id", "kind", "occurred_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "made by the player; repeats are ignored"},
        "session_id": {"type": "string", "description": "from GET /api/tracks/{id}/stream"},
        "kind": {"type": "string", "enum": ["start", "progress", "pause", "seek", "stop"]},
        "occurred_at": {"type": "string", "format": "date-time", "description": "player clock"},
        "seconds_played": {"type": "number", "minimum": 0, "description": "played since the last report"},
        "position_ms": {"type": "integer", "minimum": 0},
        "quality": {"type": "string", "enum": ["aac_128", "aac_256", "aac_320", "mp3_320", "flac", "hls"]},
        "playback_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 16},
        "track_id": {"type": "integer"},
    },
}
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["events"],
                    "properties": {
                        "sent_at": {"type": "string", "format": "date-time", "description": "player clock"},
                        "events": {"type": "array", "maxItems": 500, "items": _EVENT_SCHEMA},
                    },
                }
            }
        },
    }
}


class RejectedOut(BaseModel):
    index: int
    id: str | None
    reason: str


class BatchOut(BaseModel):
    accepted: list[str]
    duplicates: list[str]
    rejected: list[RejectedOut]


def _decode(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not valid JSON") from None


async def _ingest(state: App, body: bytes, user_id: int | None) -> Response:
    """Stored events are durable when this answers. A database that cannot answer now is a 503 with
    Retry-After (the app's database handler): the player keeps the batch and sends it again, which
    stores nothing twice."""
    result = await run_in_threadpool(state.playback.ingest, _decode(body), user_id=user_id)
    return JSONResponse(result.as_dict())


@router.post(
    "/api/playback/events",
    response_model=BatchOut,
    openapi_extra=_BATCH_BODY,
    responses={503: {"description": "database unavailable: retry the same batch"}},
)
async def post_events(request: Request, state: AppState, user: CurrentUser) -> Response:
    """Report playback (up to 500 events; each judged on its own). Stored events are durable when this
    answers; re-sending a batch stores nothing twice (`duplicates`), so retry until you get an answer."""
    return await _ingest(state, await read_body(request, limit=MAX_BODY, what="a batch body"), user.id)


@public.post(
    "/api/playback/beacon",
    response_model=BatchOut,
    openapi_extra=_BATCH_BODY,
    responses={503: {"description": "database unavailable"}},
)
async def post_beacon(request: Request, state: AppState) -> Response:
    """The same, for `navigator.sendBeacon` (any content type, no Authorization header): each event's
    session id, unguessable and bound to its listener, is the credential."""
    return await _ingest(state, await read_body(request, limit=MAX_BODY, what="a batch body"), None)
