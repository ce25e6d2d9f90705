"""HTTP for ingest: upload a track, read its processing status."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cadenza.catalog import service as catalog
from cadenza.catalog.models import Track
from cadenza.catalog.service import TrackMetadata
from cadenza.errors import InvalidInput
from cadenza.ingest import service
from cadenza.web.deps import AppState
from cadenza.web.upload import receive_upload

router = APIRouter(prefix="/api/tracks", tags=["tracks"])


class VariantOut(BaseModel):
    quality: str
    codec: str
    container: str
    bitrate_kbps: int | None
    size_bytes: int


class TrackOut(BaseModel):
    id: int
    title: str
    status: str
    stage: str | None
    failure_reason: str | None
    duration_sec: float | None
    isrc: str | None
    genre: str | None
    track_number: int | None
    artists: list[str]
    release_id: int | None
    duplicate_of: int | None
    duplicate_score: float | None
    hifi_unavailable_reason: str | None
    variants: list[VariantOut]
    created_at: datetime

    @classmethod
    def of(cls, t: Track) -> TrackOut:
        return cls(
            id=t.id,
            title=t.title,
            status=t.status.value,
            stage=t.stage,
            failure_reason=t.failure_reason,
            duration_sec=t.duration_sec,
            isrc=t.isrc,
            genre=t.genre,
            track_number=t.track_number,
            artists=[a.name for a in t.artists],
            release_id=t.release_id,
            duplicate_of=t.duplicate_of,
            duplicate_score=t.duplicate_score,
            hifi_unavailable_reason=t.hifi_unavailable_reason,
            variants=[
                VariantOut(
                    quality=v.quality,
                    codec=v.codec,
                    container=v.container,
                    bitrate_kbps=v.bitrate_kbps,
                    size_bytes=v.size_bytes,
                )
                for v in t.variants
            ],
            created_at=t.created_at,
        )


class UploadOut(BaseModel):
    id: int
    status: str
    stage: str | None


def _one(fields: dict[str, list[str]], name: str) -> str | None:
    values = [v.strip() for v in fields.get(name, []) if v.strip()]
    return values[0] if values else None


def overrides_from_form(fields: dict[str, list[str]]) -> TrackMetadata:
    """Form fields that override the file's tags; malformed values are rejected with a reason."""
    number = _one(fields, "track_number")
    if number is not None and not number.isdigit():
        raise InvalidInput("track_number must be a positive whole number")
    released = _one(fields, "release_date")
    try:
        release_date = date.fromisoformat(released) if released else None
    except ValueError:
        raise InvalidInput("release_date must be a date like 2026-11-26") from None
    artists = [a.strip() for v in fields.get("artist", []) for a in v.split(";") if a.strip()]
    return TrackMetadata(
        title=_one(fields, "title"),
        artists=artists,
        release_title=_one(fields, "release") or _one(fields, "album"),
        release_date=release_date,
        upc=_one(fields, "upc"),
        genre=_one(fields, "genre"),
        track_number=int(number) if number else None,
        isrc=_one(fields, "isrc"),
    )


@router.post("", status_code=202, response_model=UploadOut)
async def upload_track(request: Request, state: AppState) -> UploadOut:
    """Upload an audio file (multipart field `file`; optional fields title, artist (repeat or `;`), album,
    genre, isrc, track_number, release_date, upc). Processing continues in the background."""
    settings = state.c.settings
    received = await receive_upload(
        request, dest=settings.uploads_path, limit=settings.limits.max_upload_bytes
    )
    try:
        overrides = overrides_from_form(received.fields)
        assert received.path is not None
        track = await run_in_threadpool(
            service.accept_upload,
            state.c,
            state.runner,
            path=received.path,
            filename=received.filename,
            overrides=overrides,
            checksum=received.sha256,
        )
    finally:
        received.discard()
    return UploadOut(id=track.id, status=track.status.value, stage=track.stage)


@router.get("/{track_id}", response_model=TrackOut)
def get_track(track_id: int, state: AppState) -> TrackOut:
    with state.c.sessions() as s:
        return TrackOut.of(catalog.get_track_or_raise(s, track_id=track_id))


@router.get("", response_model=list[TrackOut])
def list_tracks(state: AppState, limit: int = 50, after_id: int = 0) -> list[TrackOut]:
    if not 0 < limit <= 200:
        raise InvalidInput("limit must be between 1 and 200")
    with state.c.sessions() as s:
        return [TrackOut.of(t) for t in catalog.list_tracks(s, limit=limit, after_id=after_id)]
