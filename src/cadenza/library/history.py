"""Recently played: the distinct tracks a listener started most recently, newest first, read from the
playback sessions the stream endpoint opens (`royalties.models.PlaybackSession`), the same record that
stream counts come from, so the list cannot disagree with what was played."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.accounts.models import User
from cadenza.catalog.models import Track
from cadenza.catalog.visibility import Viewer, playable_ids, track_condition
from cadenza.errors import InvalidInput
from cadenza.library.playlists import signed_in
from cadenza.library.tracks import TrackInfo, track_info
from cadenza.royalties.models import PlaybackSession

MAX_RECENT = 200
SCAN = 5_000  # most recent sessions looked at: bounded work for a listener with years of history


@dataclass(frozen=True)
class Played:
    track: TrackInfo
    last_played_at: datetime
    available: bool


def recently_played(session: Session, *, viewer: Viewer, at: datetime, limit: int = 50) -> list[Played]:
    """Up to `limit` distinct tracks from the listener's latest `SCAN` sessions, most recent first.

    The sessions are read newest first from the (user_id, started_at) index and grouped by track, so the
    cost is bounded whatever the length of the history; a listener who played fewer than `limit` distinct
    tracks in their last 5,000 plays gets fewer. Tracks deleted since are left out."""
    user_id = signed_in(viewer)
    if not 1 <= limit <= MAX_RECENT:
        raise InvalidInput(f"limit must be between 1 and {MAX_RECENT}")
    latest = (
        select(PlaybackSession.track_id, PlaybackSession.started_at)
        .where(PlaybackSession.user_id == user_id)
        .order_by(PlaybackSession.started_at.desc())
        .limit(SCAN)
        .subquery()
    )
    last = func.max(latest.c.started_at).label("last")
    rows = session.execute(
        select(latest.c.track_id, last)
        .group_by(latest.c.track_id)
        .order_by(last.desc(), latest.c.track_id)
        .limit(limit)
    ).all()
    info = track_info(session, track_ids=[r.track_id for r in rows])
    playable = playable_ids(session, viewer=viewer, track_ids=info, at=at)
    return [
        Played(info[r.track_id], _aware(r.last), r.track_id in playable) for r in rows if r.track_id in info
    ]


def _aware(value: datetime | str) -> datetime:
    """max() over a UTC timestamp column comes back untyped on SQLite (a string)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


NOW_PLAYING_WINDOW = timedelta(hours=2)  # no track plays longer: older sessions are not looked at
NOW_PLAYING_GRACE_SEC = 30  # a play is "now" until its track's length and this have passed


@dataclass(frozen=True)
class NowPlaying:
    user_id: int
    display_name: str
    track_id: int
    started_at: datetime


def now_playing(session: Session, *, viewer: Viewer, at: datetime, limit: int = 100) -> list[NowPlaying]:
    """Each listener's latest play that is still within its track's length (plus a grace), newest first,
    for the tracks `viewer` may see listed: what is being played right now, as Subsonic's getNowPlaying
    shows it. Read from the playback sessions of the last two hours (the day index bounds the scan)."""
    signed_in(viewer)
    since = at - NOW_PLAYING_WINDOW
    latest = (
        select(
            PlaybackSession.user_id,
            func.max(PlaybackSession.started_at).label("started_at"),
        )
        .where(
            PlaybackSession.day >= since.date(),
            PlaybackSession.started_at >= since,
            PlaybackSession.user_id.is_not(None),
        )
        .group_by(PlaybackSession.user_id)
        .subquery()
    )
    rows = session.execute(
        select(PlaybackSession.user_id, User.display_name, PlaybackSession.track_id, latest.c.started_at)
        .join(
            latest,
            (latest.c.user_id == PlaybackSession.user_id)
            & (latest.c.started_at == PlaybackSession.started_at),
        )
        .join(User, User.id == PlaybackSession.user_id)
        .join(Track, Track.id == PlaybackSession.track_id)
        .where(track_condition(viewer))
        .order_by(latest.c.started_at.desc(), PlaybackSession.user_id)
        .limit(limit)
    ).all()
    info = track_info(session, track_ids=[r.track_id for r in rows])
    out, seen = [], set()
    for r in rows:
        started = _aware(r.started_at)
        track = info.get(r.track_id)
        if r.user_id in seen or track is None:
            continue
        if (at - started).total_seconds() > (track.duration_sec or 0) + NOW_PLAYING_GRACE_SEC:
            continue
        seen.add(r.user_id)
        out.append(NowPlaying(r.user_id, r.display_name, r.track_id, started))
    return out
