"""Uploads (administrators): a track's audio file and its metadata; processing goes on in the background."""

from __future__ import annotations

from datetime import date

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cadenza.catalog.service import TrackMetadata
from cadenza.errors import InvalidInput
from cadenza.ingest import service
from cadenza.web.deps import AppState, admin_router
from cadenza.web.upload import receive_upload

router = admin_router(prefix="/api/tracks", tags=["tracks"])


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
            disposable=True,
        )
    finally:
        received.discard()
    return UploadOut(id=track.id, status=track.status.value, stage=track.stage)
