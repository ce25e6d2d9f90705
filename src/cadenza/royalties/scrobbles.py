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
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.royalties.models import PlaybackEvent, PlaybackSession

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


# --- OpenSubsonic `reportPlayback` (extension `playbackReport`) -------------------------------------------
#
# A client reports the playback state of a song (`starting`, `playing`, `paused`, `stopped`), its position
# and its playback rate, at each change and every few seconds while playing. Each report becomes one event
# on the listener's latest session of that song (the one `stream` opened), with the seconds played since
# the previous report: the wall time between the two when the previous state was playing (times its rate),
# else nothing. The server's clock measures it, not the client's position, so seeking adds nothing; the
# counting rules then cap the claims at the wall time since the stream began and at the track's length,
# exactly as for the web player's heartbeats. `ignoreScrobble=true` reports are not recorded.

REPORT_KINDS = {"starting": "progress", "playing": "progress", "paused": "pause", "stopped": "stop"}
_PLAYING_KINDS = ("start", "progress", "seek")


@dataclass(frozen=True)
class LastReport:
    kind: str
    occurred_at: datetime
    playback_rate: float | None


def last_report(session: Session, *, session_id: str) -> LastReport | None:
    """The latest event of a playback session (None when there is none)."""
    row = session.execute(
        select(PlaybackEvent.kind, PlaybackEvent.occurred_at, PlaybackEvent.playback_rate)
        .where(PlaybackEvent.session_id == session_id)
        .order_by(PlaybackEvent.occurred_at.desc(), PlaybackEvent.id.desc())
        .limit(1)
    ).first()
    return LastReport(row[0], row[1], row[2]) if row else None


def report_event(
    session_id: str,
    *,
    started_at: datetime,
    previous: LastReport | None,
    state: str,
    position_ms: int,
    playback_rate: float,
    at: datetime,
) -> dict[str, object]:
    """The event a `reportPlayback` call becomes (for `royalties.ingest.Ingestor.ingest`). The id is
    derived from the session, the state and the server time, so a retried report is stored once."""
    if state not in REPORT_KINDS:
        raise ValueError(f"state must be one of {', '.join(REPORT_KINDS)}")
    since = started_at if previous is None else previous.occurred_at
    since = since if since.tzinfo else since.replace(tzinfo=at.tzinfo)
    was_playing = previous is not None and previous.kind in _PLAYING_KINDS
    rate = (previous.playback_rate or 1.0) if previous is not None else 1.0
    # `starting` opens the listening: time before it (buffering) is not playing time
    played = max((at - since).total_seconds(), 0.0) * rate if was_playing and state != "starting" else 0.0
    return {
        "id": str(uuid.uuid5(_NAMESPACE, f"{session_id}/{state}/{at.isoformat()}")),
        "session_id": session_id,
        "kind": REPORT_KINDS[state],
        "occurred_at": at.isoformat(),
        "seconds_played": math.floor(played * 1000) / 1000,
        "position_ms": position_ms,
        "playback_rate": playback_rate,
    }
