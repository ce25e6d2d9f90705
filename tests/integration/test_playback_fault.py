"""Fault test: the server's PostgreSQL connections are killed (pg_terminate_backend) again and again
while a player streams event batches at it and retries whatever did not get an answer; the counts
come out exactly as sent, nothing lost and nothing twice."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from cadenza.bootstrap import App, build_collaborators
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_engine, make_session_factory, transaction
from cadenza.royalties import rollups
from cadenza.royalties.models import PlaybackEvent
from cadenza.royalties.recorder import SessionRecorder, new_session
from cadenza.royalties.rules import Royalties
from cadenza.web.app import create_app
from conftest import PG_URL, IdleRunner, create_user, drop_schema, make_settings, make_test_engine
from fault_drills import connections_killed, post_until_answered
from livesrv import serve

pytestmark = pytest.mark.postgres

SESSIONS = 60
# Listening per session (seconds): around the threshold, and well past it.
LENGTHS = [25.0, 29.9, 30.0, 30.1, 45.0, 90.0]


def test_killed_connections_lose_nothing_and_count_nothing_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, url, schema = make_test_engine("postgres", tmp_path)
    app_name = f"cadenza-fault-{uuid.uuid4().hex[:8]}"
    served = make_engine(url, connect_args={"application_name": app_name})
    try:
        settings = make_settings(tmp_path / "data", url)
        c = build_collaborators(settings, engine=served, run_migrations=False)
        token = create_user(c.sessions, email="fan@example.org")
        with transaction(c.sessions) as s:
            track = Track(title="Song", status=TrackStatus.ready, duration_sec=240.0)
            s.add(track)
            s.flush()
            track_id = track.id
            user_id = s.execute(text("SELECT id FROM users")).scalar_one()
        start = datetime.now(UTC) - timedelta(minutes=10)
        recorder = SessionRecorder(make_session_factory(engine))
        opened = [
            new_session(
                track_id=track_id,
                user_id=user_id,
                territory="DE",
                quality="hls",
                at=start + timedelta(seconds=i),
            )
            for i in range(SESSIONS)
        ]
        for s_ in opened:
            recorder.record(s_)
        recorder.close()

        events, expected_ms = [], 0
        for i, session in enumerate(opened):
            length = LENGTHS[i % len(LENGTHS)]
            expected_ms += round(length * 1000)
            played, at = 0.0, 0.0
            while played < length:
                step = min(5.0, round(length - played, 3))
                played, at = played + step, at + step
                occurred = (session.started_at + timedelta(seconds=at)).isoformat()
                events.append(
                    {"id": str(uuid.uuid4()), "session_id": session.id, "kind": "progress",
                     "seconds_played": step, "occurred_at": occurred, "quality": "aac_128"}
                )  # fmt: skip
        random.Random(3).shuffle(events)  # batches arrive in any order
        batches = [events[i : i + 5] for i in range(0, len(events), 5)]

        state = App(c=c, runner=IdleRunner())
        app = create_app(settings, wired=state)
        with serve(app) as base, httpx.Client(base_url=base, timeout=10) as client:
            with connections_killed(PG_URL, application_name=app_name, pause=(0.01, 0.06)) as kills:
                failed = sum(post_until_answered(client, token, b, pause=0.02)[1] for b in batches)
            # Every batch once more after the storm: all duplicates now.
            for b in batches[:5]:
                post_until_answered(client, token, b, pause=0.02)
        state.recorder.close()

        assert sum(kills) > 0, "the killer never found the server's connections"
        retried = sum("retrying" in r.getMessage() for r in caplog.records)
        print(f"kills {sum(kills)}, server-side retries {retried}, answers the client had to retry {failed}")
        assert retried + failed > 0, "no request ever met a killed connection"
        # One listener, one track, one day: lift the anti-fraud cap, which is not under test here.
        rollups.refresh(engine, rules=Royalties(daily_cap_per_track=1000))
        with make_session_factory(engine)() as s:
            stored = s.scalar(
                select(func.count()).select_from(PlaybackEvent).where(PlaybackEvent.kind != "start")
            )
            row = s.execute(
                text(
                    "SELECT SUM(sessions), SUM(streams), SUM(played_ms) FROM playback_daily "
                    "WHERE track_id = :t"
                ),
                {"t": track_id},
            ).one()
            play_count = s.get(Track, track_id).play_count  # type: ignore[union-attr]
        qualifying = sum(1 for i in range(SESSIONS) if LENGTHS[i % len(LENGTHS)] >= 30)
        assert stored == len(events)
        assert (row[0], row[1], row[2]) == (SESSIONS, qualifying, expected_ms)
        assert play_count == qualifying
    finally:
        served.dispose()
        engine.dispose()
        drop_schema(schema)
