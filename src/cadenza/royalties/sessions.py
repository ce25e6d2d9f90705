"""Playback sessions: opened by the stream endpoint, each with its `start` event."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from cadenza.db.base import utcnow
from cadenza.royalties.models import PlaybackEvent, PlaybackSession


def open_session(
    session: Session, *, track_id: int, user_id: int | None, territory: str | None, quality: str | None = None
) -> PlaybackSession:
    """A new playback session and its `start` event (zero seconds played)."""
    now = utcnow()
    playback = PlaybackSession(
        id=str(uuid.uuid4()), track_id=track_id, user_id=user_id, territory=territory, started_at=now
    )
    session.add(playback)
    session.flush()
    session.add(
        PlaybackEvent(
            event_id=str(uuid.uuid4()),
            session_id=playback.id,
            track_id=track_id,
            user_id=user_id,
            kind="start",
            position_ms=0,
            seconds_played=0.0,
            quality=quality,
            territory=territory,
            occurred_at=now,
            received_at=now,
        )
    )
    return playback
