"""HTTP for playback events (players, beacons) and royalties (admins: statistics, reports, refresh)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from cadenza.bootstrap import App
from cadenza.db.engine import engine_of
from cadenza.errors import InvalidInput
from cadenza.royalties import rollups, service
from cadenza.royalties.ingest import BatchResult, Ingestor, SessionDirectory
from cadenza.royalties.rules import Royalties, royalty_settings
from cadenza.web.deps import AdminUser, AppState, CurrentUser

router = APIRouter(tags=["playback"])

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


class StatOut(BaseModel):
    track_id: int
    territory: str
    quality: str
    user_tier: str
    sessions: int
    streams: int
    discarded: int
    seconds: float


class RefreshOut(BaseModel):
    days: list[str]
    seconds: float


class Playback:
    """This app's event intake and royalty rules, made on first use."""

    def __init__(self, state: App, rules: Royalties) -> None:
        self.state = state
        self.rules = rules
        directory = SessionDirectory(state.c.sessions, flush=lambda: state.recorder.flush())
        self.ingestor = Ingestor(state.c.sessions, rules, directory)

    def ingest(self, body: bytes, *, user_id: int | None) -> BatchResult:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidInput("the body is not valid JSON") from None
        return self.ingestor.ingest(data, user_id=user_id)


async def get_playback(request: Request, state: AppState) -> Playback:
    playback: Playback | None = getattr(request.app.state, "playback", None)
    if playback is None or playback.state is not state:
        playback = Playback(state, royalty_settings(state.c.settings))
        request.app.state.playback = playback
    return playback


PlaybackDep = Annotated[Playback, Depends(get_playback)]


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"a batch body is at most {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"a batch body is at most {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _ingest(playback: Playback, body: bytes, user_id: int | None) -> Response:
    try:
        result = await run_in_threadpool(playback.ingest, body, user_id=user_id)
    except DBAPIError:
        # Nothing was stored (or it was, and a retry finds it): the player keeps the batch and retries.
        content = {"error": "unavailable", "reason": "the database is unavailable; send the batch again"}
        return JSONResponse(content, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse(result.as_dict())


@router.post(
    "/api/playback/events",
    response_model=BatchOut,
    openapi_extra=_BATCH_BODY,
    responses={503: {"description": "database unavailable: retry the same batch"}},
)
async def post_events(request: Request, playback: PlaybackDep, user: CurrentUser) -> Response:
    """Report playback (up to 500 events; each judged on its own). Stored events are durable when this
    answers; re-sending a batch stores nothing twice (`duplicates`), so retry until you get an answer."""
    return await _ingest(playback, await _body(request), user.id)


@router.post(
    "/api/playback/beacon",
    response_model=BatchOut,
    openapi_extra=_BATCH_BODY,
    responses={503: {"description": "database unavailable"}},
)
async def post_beacon(request: Request, playback: PlaybackDep) -> Response:
    """The same, for `navigator.sendBeacon` (any content type, no Authorization header): each event's
    session id, unguessable and bound to its listener, is the credential."""
    return await _ingest(playback, await _body(request), None)


Period = Annotated[str, Query(max_length=10, description="a month (2026-11) or a day (2026-11-05)")]
Territory = Annotated[str, Query(max_length=2, description="ISO 3166-1 alpha-2, e.g. DE")]
BigId = Annotated[int, Query(ge=1, le=2**63 - 1)]


@router.get("/api/admin/playback/stats", response_model=list[StatOut])
async def playback_stats(
    playback: PlaybackDep,
    _: AdminUser,
    period: Period,
    territory: Annotated[str | None, Query(max_length=2)] = None,
    track_id: BigId | None = None,
) -> list[StatOut]:
    """Sessions, counted and discarded streams and listening time per track, territory, quality and
    listener tier, for a month or a day."""
    rows = await run_in_threadpool(
        service.playback_stats,
        playback.state.c.sessions,
        period=service.parse_period(period, allow_day=True),
        rules=playback.rules,
        territory=territory,
        track_id=track_id,
    )
    return [StatOut(**r.__dict__, seconds=r.played_ms / 1000) for r in rows]


@router.get(
    "/api/admin/royalties/report",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def royalty_report(
    playback: PlaybackDep,
    _: AdminUser,
    period: Annotated[str, Query(max_length=7, description="a month, e.g. 2026-11")],
    territory: Territory,
    pool: Annotated[str, Query(max_length=40, description="revenue to share, e.g. 10000.00")],
    currency: Annotated[str, Query(max_length=3, description="ISO 4217, e.g. EUR")],
    format: Literal["csv", "json"] = "json",
    holder_id: BigId | None = None,
) -> Response:
    """Statements per rights holder for a month and territory (or one holder's with `holder_id`), as a
    file; the same data always gives the same bytes."""
    request = service.ReportRequest.parse(period=period, territory=territory, pool=pool, currency=currency)
    report = await run_in_threadpool(
        service.make_report, playback.state.c.sessions, request=request, rules=playback.rules
    )
    body, name = service.render(report, format, holder_id=holder_id)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/api/admin/playback/refresh", response_model=RefreshOut)
async def refresh_rollups(playback: PlaybackDep, _: AdminUser) -> RefreshOut:
    """Fold new events into the daily rollups and the catalog's play counts now."""
    engine = engine_of(playback.state.c.sessions)
    done = await run_in_threadpool(rollups.refresh, engine, rules=playback.rules)
    return RefreshOut(days=[d.isoformat() for d in done.days], seconds=round(done.seconds, 3))
