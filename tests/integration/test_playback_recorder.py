"""The stream endpoint's session recorder: day, listener tier, day marks, and retries that stay harmless."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, select

from cadenza.accounts.models import User
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_session_factory
from cadenza.royalties.models import PlaybackDirtyDay, PlaybackEvent, PlaybackSession
from cadenza.royalties.recorder import SessionRecorder, new_session

LATE = datetime(2026, 11, 5, 23, 59, 59, 500_000, tzinfo=UTC)


def test_sessions_carry_their_day_and_tier_and_a_repeated_batch_is_harmless(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        user = User(email="fan@example.org", display_name="fan", password_hash="x", tier="hifi")
        track = Track(title="Song", status=TrackStatus.ready, duration_sec=100.0)
        s.add_all([user, track])
        s.flush()
        user_id, track_id = user.id, track.id
    recorder = SessionRecorder(sessions, interval=3600)
    first = new_session(track_id=track_id, user_id=user_id, territory="DE", quality="hls", at=LATE)
    told = new_session(
        track_id=track_id, user_id=user_id, territory=None, quality="hls", at=LATE, user_tier="premium"
    )
    recorder.record(first)
    recorder.record(told)
    assert recorder.flush() == 2
    # The same session again, as when a commit landed but its answer was lost and the batch is retried.
    again = new_session(track_id=track_id, user_id=None, territory="FR", quality="hls", at=LATE)
    recorder.record(first)
    recorder.record(again)
    assert recorder.flush() == 2
    recorder.close()
    with sessions() as s:
        rows = {r.id: r for r in s.scalars(select(PlaybackSession))}
        starts = s.scalars(select(PlaybackEvent).where(PlaybackEvent.kind == "start")).all()
        marks = s.scalars(select(PlaybackDirtyDay.day)).all()
    assert set(rows) == {first.id, told.id, again.id}
    assert rows[first.id].day == date(2026, 11, 5)  # the UTC day it started, whenever it ends
    assert (rows[first.id].user_tier, rows[told.id].user_tier, rows[again.id].user_tier) == (
        "hifi",
        "premium",
        None,
    )
    assert len(starts) == 3 and all(e.user_id is None and e.session_day == date(2026, 11, 5) for e in starts)
    assert set(marks) == {date(2026, 11, 5)}
