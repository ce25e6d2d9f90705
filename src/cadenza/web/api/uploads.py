"""Uploads (administrators): a track's audio file and its metadata; processing goes on in the background."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cadenza.ingest import service
from cadenza.web.deps import AppState, admin_router
from cadenza.web.forms import overrides_from_form
from cadenza.web.upload import receive_upload

router = admin_router(prefix="/api/tracks", tags=["tracks"])


class UploadOut(BaseModel):
    id: int
    status: str
    stage: str | None


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
