"""Migration 0003 on a database that already holds playback data: sessions and events are backfilled,
their days marked, and the first refresh counts them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from cadenza.db import migrate
from cadenza.db.engine import make_engine
from cadenza.royalties import rollups
from cadenza.royalties.rules import Royalties
from conftest import PG_URL, drop_schema

START = datetime(2026, 11, 3, 23, 59, 30, tzinfo=UTC)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_existing_sessions_are_backfilled_and_counted(backend: str, tmp_path: Path) -> None:
    schema = None
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        schema = f"m_{uuid.uuid4().hex[:10]}"
        with make_engine(PG_URL).begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate.upgrade(engine, "0002")

        def stamp(seconds: float) -> object:
            """A time as the 0002 schema stores it (SQLite: naive UTC text)."""
            t = START + timedelta(seconds=seconds)
            return t.strftime("%Y-%m-%d %H:%M:%S.%f") if backend == "sqlite" else t

        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO users (id, email, display_name, password_hash, role, tier, created_at) "
                    "VALUES (1, 'fan@example.org', 'fan', 'x', 'listener', 'premium', :t)"
                ),
                {"t": stamp(0)},
            )
            c.execute(
                text(
                    "INSERT INTO tracks (id, title, status, play_count, created_at, updated_at, "
                    "duration_sec) VALUES (1, 'Song', 'ready', 0, :t, :t, 200)"
                ),
                {"t": stamp(0)},
            )
            c.execute(
                text(
                    "INSERT INTO playback_sessions (id, user_id, track_id, territory, started_at) "
                    "VALUES ('s1', 1, 1, 'DE', :t)"
                ),
                {"t": stamp(0)},
            )
            plays = [("start", 0, 0.0), ("progress", 20, 20.0), ("stop", 35.25, 15.25)]
            for n, (kind, second, played) in enumerate(plays):
                c.execute(
                    text(
                        "INSERT INTO playback_events (event_id, session_id, track_id, user_id, kind, "
                        "position_ms, seconds_played, quality, territory, occurred_at, received_at) "
                        "VALUES (:e, 's1', 1, 1, :k, 0, :p, 'aac_320', 'DE', :at, :at)"
                    ),
                    {"e": f"e{n}", "k": kind, "p": played, "at": stamp(second)},
                )
        migrate.upgrade(engine, "0003")
        with engine.connect() as c:
            session = c.execute(text("SELECT day, user_tier, quality FROM playback_sessions")).one()
            events = c.execute(
                text("SELECT session_day, elapsed_ms, played_ms FROM playback_events ORDER BY elapsed_ms")
            ).all()
            dirty = c.execute(text("SELECT day FROM playback_dirty_days")).scalars().all()
        day = date(2026, 11, 3)  # the session's start day, though it ended after midnight
        assert (str(session[0]), session[1], session[2]) == (day.isoformat(), "premium", "aac_320")
        assert [(str(d), e, p) for d, e, p in events] == [
            (day.isoformat(), 0, 0),
            (day.isoformat(), 20_000, 20_000),
            (day.isoformat(), 35_250, 15_250),
        ]
        assert [str(d) for d in dirty] == [day.isoformat()]
        migrate.upgrade(engine)  # today's counting needs the later revisions (0013 marks the day again)
        assert rollups.refresh(engine, rules=Royalties()).days == (day,)
        with engine.connect() as c:
            row = c.execute(text("SELECT sessions, streams, played_ms, quality FROM playback_daily")).one()
            plays = c.execute(text("SELECT play_count FROM tracks")).scalar_one()
        assert tuple(row) == (1, 1, 35_250, "aac_320") and plays == 1
    finally:
        engine.dispose()
        if schema:
            drop_schema(schema)
