"""Royalties (administrators): playback statistics, statements per rights holder, rollup refresh."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cadenza.db.engine import engine_of
from cadenza.royalties import rollups, service
from cadenza.web.deps import MAX_ID, AppState, admin_router
from cadenza.web.validation import text_type

router = admin_router(tags=["royalties"])


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
    days: list[str]  # rebuilt whole
    sessions: int  # recounted one by one (sessions with new events)
    seconds: float


Period = Annotated[text_type(10), Query(description="a month (2026-11) or a day (2026-11-05)")]
Territory = Annotated[text_type(2), Query(description="ISO 3166-1 alpha-2, e.g. DE")]
BigId = Annotated[int, Query(ge=1, le=MAX_ID)]


@router.get("/api/admin/playback/stats", response_model=list[StatOut])
async def playback_stats(
    state: AppState,
    period: Period,
    territory: Annotated[text_type(2) | None, Query()] = None,
    track_id: BigId | None = None,
) -> list[StatOut]:
    """Sessions, counted and discarded streams and listening time per track, territory, quality and
    listener tier, for a month or a day."""
    rows = await run_in_threadpool(
        service.playback_stats,
        state.c.sessions,
        period=service.parse_period(period, allow_day=True),
        rules=state.royalty_rules,
        territory=territory,
        track_id=track_id,
    )
    return [StatOut(**r.__dict__, seconds=r.played_ms / 1000) for r in rows]


@router.get(
    "/api/admin/royalties/report",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
async def royalty_report(
    state: AppState,
    period: Annotated[text_type(7), Query(description="a month, e.g. 2026-11")],
    territory: Territory,
    pool: Annotated[text_type(40), Query(description="revenue to share, e.g. 10000.00")],
    currency: Annotated[text_type(3), Query(description="ISO 4217, e.g. EUR")],
    format: Literal["csv", "json"] = "json",
    holder_id: BigId | None = None,
) -> Response:
    """Statements per rights holder for a month and territory (or one holder's with `holder_id`), as a
    file; the same data always gives the same bytes."""
    request = service.ReportRequest.parse(period=period, territory=territory, pool=pool, currency=currency)
    report = await run_in_threadpool(
        service.make_report, state.c.sessions, request=request, rules=state.royalty_rules
    )
    body, name = service.render(report, format, holder_id=holder_id)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/api/admin/playback/refresh", response_model=RefreshOut)
async def refresh_rollups(state: AppState) -> RefreshOut:
    """Fold new events into the daily rollups and the catalog's play counts now."""
    engine = engine_of(state.c.sessions)
    done = await run_in_threadpool(rollups.refresh, engine, rules=state.royalty_rules)
    return RefreshOut(
        days=[d.isoformat() for d in done.days], sessions=done.sessions, seconds=round(done.seconds, 3)
    )
