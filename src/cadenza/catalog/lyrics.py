"""A track's lyrics in the catalog: stored line by line (`LyricLine`), replaced whole, read under
`catalog.visibility`. The format rules live in `catalog/lrc.py`."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cadenza.catalog import service
from cadenza.catalog.lrc import Line, Lyrics
from cadenza.catalog.models import LyricLine, Track
from cadenza.catalog.visibility import Viewer

EMBEDDED = "embedded"  # read from the upload's tags
ATTACHED = "lrc"  # attached through the API (or beside the file)
NONE = "none"  # looked for, none found


def replace(session: Session, *, track: Track, lyrics: Lyrics | None, source: str) -> None:
    """Make `lyrics` the track's lyrics (None: the track has none, and it was looked for)."""
    session.execute(delete(LyricLine).where(LyricLine.track_id == track.id))
    if lyrics is None:
        track.lyrics_source = NONE
        return
    session.add_all(
        LyricLine(
            track_id=track.id, position=i, start_ms=line.start_ms, text=line.text, language=lyrics.language
        )
        for i, line in enumerate(lyrics.lines)
    )
    track.lyrics_source = source


def record_embedded(session: Session, *, track_id: int, lyrics: Lyrics | None) -> None:
    """Lyrics found in the upload's tags; lyrics attached by hand are never replaced by them."""
    track = session.get(Track, track_id)
    if track is None or track.lyrics_source == ATTACHED:
        return
    replace(session, track=track, lyrics=lyrics, source=EMBEDDED)


def attach(session: Session, *, track_id: int, lyrics: Lyrics) -> Track:
    """Lyrics attached to a track by an administrator (an `.lrc` file), replacing any others."""
    track = service.get_track_or_raise(session, track_id=track_id)
    replace(session, track=track, lyrics=lyrics, source=ATTACHED)
    return track


def visible(session: Session, *, viewer: Viewer, track_id: int) -> tuple[Track, Lyrics | None]:
    """The lyrics of a track `viewer` may see (NotFound otherwise); None if it has none."""
    track = service.visible_track(session, viewer=viewer, track_id=track_id)
    rows = list(
        session.scalars(select(LyricLine).where(LyricLine.track_id == track_id).order_by(LyricLine.position))
    )
    if not rows:
        return track, None
    return track, Lyrics(tuple(Line(r.start_ms, r.text) for r in rows), rows[0].language)
