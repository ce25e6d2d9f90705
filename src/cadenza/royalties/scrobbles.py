"""Plays reported by clients that only say "I played this" (the Subsonic `scrobble`): they enter the same
playback sessions as the web player's, and the same rules decide what they are worth.

A Subsonic client cannot send the web player's position reports: it fetches the file through `stream`
(which opens a playback session, as the web player's stream call does) and, at the end or after half the
track, calls `scrobble`. A scrobble is turned into one `stop` event on the listener's latest session of
that track that started within `max_session_hours`, claiming the whole track or, if less, the wall time
since the stream started (times `max_playback_rate`): the counting rules credit no more than that and no
more than the track's duration, and the 30-second rule decides whether it is a stream.
So a scrobble sent right after the stream began credits a few seconds, not a play; a scrobble with no
stream through this server (offline playback of a downloaded file) credits nothing. The event id is
derived from the session, so a repeated scrobble stores nothing twice."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.royalties.models import PlaybackSession

_NAMESPACE = uuid.UUID("4b7d4f0e-1d1f-4c55-9a57-6b0c2f7d9e11")


def latest_session(
    session: Session, *, user_id: int, track_id: int, since: datetime
) -> tuple[str, datetime] | None:
    """The id and start of the listener's most recent session of the track started after `since`."""
    row = session.execute(
        select(PlaybackSession.id, PlaybackSession.started_at)
        .where(
            PlaybackSession.user_id == user_id,
            PlaybackSession.track_id == track_id,
            PlaybackSession.started_at >= since,
        )
        .order_by(PlaybackSession.started_at.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def scrobble_event(
    session_id: str, *, started_at: datetime, duration_sec: float, at: datetime, max_rate: float
) -> dict[str, object]:
    """The event a scrobble of that session becomes (for `royalties.ingest.Ingestor.ingest`): it claims
    the track, or as much of it as the wall time since the session started allows (the ingest refuses a
    larger claim outright)."""
    start = started_at if started_at.tzinfo else started_at.replace(tzinfo=at.tzinfo)
    elapsed = max((at - start).total_seconds(), 0.0)
    return {
        "id": str(uuid.uuid5(_NAMESPACE, session_id)),
        "session_id": session_id,
        "kind": "stop",
        "occurred_at": at.isoformat(),
        # whole milliseconds, rounded down: a claim never runs ahead of the clock by rounding
        "seconds_played": math.floor(max(min(duration_sec, elapsed * max_rate), 0.0) * 1000) / 1000,
    }


def window(max_session_hours: float, at: datetime) -> datetime:
    return at - timedelta(hours=max_session_hours)
