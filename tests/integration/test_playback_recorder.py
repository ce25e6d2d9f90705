"""The stream endpoint's session recorder: day, listener tier, day marks, and retries that stay harmless."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from cadenza.accounts.models import User
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_session_factory
from cadenza.errors import Unavailable
from cadenza.royalties.models import PlaybackDirtySession, PlaybackEvent, PlaybackSession
from cadenza.royalties.recorder import ANALYZE_AFTER, SessionRecorder, new_session
from conftest import drop_schema, make_test_engine

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
        marks = s.execute(select(PlaybackDirtySession.session_id, PlaybackDirtySession.day)).all()
    assert set(rows) == {first.id, told.id, again.id}
    assert rows[first.id].day == date(2026, 11, 5)  # the UTC day it started, whenever it ends
    assert (rows[first.id].user_tier, rows[told.id].user_tier, rows[again.id].user_tier) == (
        "hifi",
        "premium",
        None,
    )
    assert len(starts) == 3 and all(e.user_id is None and e.session_day == date(2026, 11, 5) for e in starts)
    # every session is marked for the rollups' next refresh, with its day
    assert {sid for sid, _ in marks} == set(rows) and {day for _, day in marks} == {date(2026, 11, 5)}


def test_statistics_are_refreshed_once_the_first_sessions_are_written(tmp_path: Path) -> None:
    """On a database whose playback tables were analyzed while empty, the recorder analyzes them once it
    has written ANALYZE_AFTER sessions, so no connection keeps planning its foreign-key checks as scans
    of a table it believes empty (PostgreSQL)."""
    engine, _, schema = make_test_engine("postgres", tmp_path)
    assert schema
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE playback_sessions"))
            conn.execute(text("VACUUM ANALYZE playback_events"))
        sessions = make_session_factory(engine)
        with sessions() as s, s.begin():
            track = Track(title="Song", status=TrackStatus.ready, duration_sec=100.0)
            s.add(track)
            s.flush()
            track_id = track.id
        recorder = SessionRecorder(sessions, interval=3600)

        def write(n: int) -> None:
            for _ in range(n):
                recorder.record(
                    new_session(track_id=track_id, user_id=None, territory="DE", quality="hls", at=LATE)
                )
            assert recorder.flush() == n

        def rows_planned() -> float:
            with engine.connect() as conn:
                return float(
                    conn.execute(
                        text("SELECT reltuples FROM pg_class WHERE oid = 'playback_sessions'::regclass")
                    ).scalar_one()
                )

        write(ANALYZE_AFTER // 2)
        assert rows_planned() == 0  # what the planner still believes
        write(ANALYZE_AFTER // 2 + 10)
        assert rows_planned() >= ANALYZE_AFTER
        recorder.close()
    finally:
        engine.dispose()
        drop_schema(schema)


def test_a_full_queue_refuses_new_sessions_instead_of_blocking(engine: Engine) -> None:
    """When the writer has fallen behind by `max_pending` sessions, recording refuses (HTTP 503 upstream)
    rather than writing on the caller's thread; once the queue drains, sessions are taken again."""
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        track = Track(title="Queued", status=TrackStatus.ready, duration_sec=100.0)
        s.add(track)
        s.flush()
        track_id = track.id
    recorder = SessionRecorder(sessions, interval=3600, max_pending=3)  # the writer waits an hour
    made = [
        new_session(track_id=track_id, user_id=None, territory=None, quality="hls", at=LATE) for _ in range(5)
    ]
    for s_ in made[:3]:
        recorder.record(s_)
    with pytest.raises(Unavailable, match="try again"):
        recorder.record(made[3])
    assert recorder.flush() == 3
    recorder.record(made[4])
    assert recorder.flush() == 1
    recorder.close()
    with sessions() as s:
        stored = set(s.scalars(select(PlaybackSession.id).where(PlaybackSession.track_id == track_id)))
    assert stored == {made[i].id for i in (0, 1, 2, 4)}
