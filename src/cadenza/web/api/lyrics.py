"""HTTP for lyrics: anyone who may see a track reads its lyrics; an administrator attaches an `.lrc`.
The format rules are in catalog/lrc.py, storage in catalog/lyrics.py."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from cadenza.catalog import lrc, lyrics
from cadenza.db.engine import transaction
from cadenza.errors import InvalidInput
from cadenza.web.deps import AppState, Id, ViewerDep, get_admin, user_router
from cadenza.web.upload import read_body

router = user_router(prefix="/api", tags=["lyrics"])

MAX_LRC_BYTES = lrc.MAX_LRC_BYTES


class LyricLineOut(BaseModel):
    start_ms: int | None
    text: str


class LyricsOut(BaseModel):
    track_id: int
    source: str | None  # embedded, lrc, none; None: not looked for yet
    synced: bool
    language: str | None
    lines: list[LyricLineOut]

    @classmethod
    def of(cls, track_id: int, source: str | None, found: lrc.Lyrics | None) -> LyricsOut:
        lines = found.lines if found else ()
        return cls(
            track_id=track_id,
            source=source,
            synced=bool(found and found.synced),
            language=found.language if found else None,
            lines=[LyricLineOut(start_ms=line.start_ms, text=line.text) for line in lines],
        )


async def _lrc_body(request: Request) -> str:
    """The body as UTF-8 text, cut off at the size limit (413)."""
    body = await read_body(request, limit=MAX_LRC_BYTES, what="LRC")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"body is not UTF-8 text (byte {exc.start})") from None


_LRC_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/plain": {"schema": {"type": "string", "maxLength": MAX_LRC_BYTES}}},
    }
}


@router.get("/tracks/{track_id}/lyrics", response_model=LyricsOut)
def get_lyrics(track_id: Id, viewer: ViewerDep, state: AppState) -> LyricsOut:
    """A track's lyrics, line by line (`start_ms` null for unsynced lyrics); no lines if it has none."""
    with state.c.sessions() as s:
        track, found = lyrics.visible(s, viewer=viewer, track_id=track_id)
        return LyricsOut.of(track.id, track.lyrics_source, found)


@router.put(
    "/tracks/{track_id}/lyrics",
    response_model=LyricsOut,
    dependencies=[Depends(get_admin)],
    openapi_extra=_LRC_BODY,
    responses={404: {"description": "no such track"}, 413: {"description": "over 256 KiB"}},
)
async def put_lyrics(request: Request, track_id: Id, state: AppState) -> LyricsOut:
    """Attach synced lyrics (administrators): the body is an LRC file, UTF-8, up to 256 KiB. Malformed
    LRC is a 422 naming the line at fault, and nothing changes. Replaces the track's lyrics, embedded
    ones included (a later reprocess keeps these)."""
    parsed = lrc.parse(await _lrc_body(request))

    def store() -> LyricsOut:
        with transaction(state.c.sessions) as s:
            track = lyrics.attach(s, track_id=track_id, lyrics=parsed)
            return LyricsOut.of(track.id, track.lyrics_source, parsed)

    return await run_in_threadpool(store)
