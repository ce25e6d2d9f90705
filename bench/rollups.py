"""Benchmark: incremental rollup refresh against a full recount of the day, at 10 million events a day.

1. Generates one day of playback straight into PostgreSQL (a schema of its own, dropped afterwards):
   ~1,000,000 sessions over 5,000 tracks and 50,000 listeners, ~10 million events (the same shapes as
   bench/royalties.py: heartbeats every 10 s, pauses, seeks, over-claimers, listeners who replay one
   track all day so the daily cap bites).
2. Times the full recount of that day from raw events (`rollups.recompute`, what the once-a-minute
   refresh did before), best of two.
3. Then, for 1k, 10k and 100k new events (heartbeats for random sessions of the day, five per session,
   and one new session in ten; each batch written like the events endpoint writes it, marks included),
   times the incremental refresh (`rollups.refresh`, which recounts only the marked sessions), best of
   three fresh batches, and prints its ratio to the full recount and its cost per new event.
   The tables are vacuumed first (the full recounts leave a day of dead rows behind, which autovacuum
   clears in steady state).
4. Checks that the rollups after all the incremental refreshes equal a full recount of the day.

At 10M events a day, 1k new events are ~9 s of traffic, 10k ~1.4 min (one refresh interval) and 100k
~14 min.

    .venv/bin/python bench/rollups.py [--sessions 1000000] [--keep]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cadenza.db import migrate  # noqa: E402
from cadenza.royalties import rollups  # noqa: E402
from cadenza.royalties.rules import Royalties  # noqa: E402
from harness import pg_schema  # noqa: E402

DAY = date(2026, 10, 14)
TRACKS, USERS = 5000, 50_000

SEED_SQL = f"""
INSERT INTO users (email, display_name, password_hash, role, tier, created_at)
SELECT 'listener' || g || '@bench.example', 'Listener ' || g, 'x', 'listener',
       (ARRAY['free', 'free', 'premium', 'hifi'])[1 + g % 4], now()
FROM generate_series(1, {USERS}) g;
INSERT INTO tracks (title, duration_sec, status, play_count, created_at, updated_at)
SELECT 'Track ' || g, 120 + (g * 37) % 240, 'ready', 0, now(), now() FROM generate_series(1, {TRACKS}) g;
"""

SESSIONS_SQL = f"""
INSERT INTO playback_sessions (id, user_id, track_id, territory, started_at, day, user_tier, quality)
SELECT id, user_id, track_id, territory, started_at, (started_at AT TIME ZONE 'UTC')::date,
       (SELECT tier FROM users u WHERE u.id = x.user_id), 'hls'
FROM (
  SELECT md5(:tag || g)::uuid::text AS id,
         CASE WHEN g % 97 = 0 THEN 1 + g % 5
              ELSE 1 + floor(power(random(), 2) * {USERS})::bigint END AS user_id,
         CASE WHEN g % 97 = 0 THEN 1 + g % 2
              ELSE 1 + floor(power(random(), 3) * {TRACKS})::bigint END AS track_id,
         (ARRAY['DE','DE','DE','FR','US','US','GB','SE','NL','ES','IT','PL','BR','JP'])[1 + g % 14]
           AS territory,
         timestamptz '{DAY.isoformat()} 00:00:00+00' + ((g - 1)::float8 / :n * 86399) * interval '1 second'
           AS started_at
  FROM generate_series(1, :n) g
) x;
"""

EVENTS_SQL = """
INSERT INTO playback_events (event_id, session_id, track_id, user_id, kind, position_ms, seconds_played,
  quality, territory, occurred_at, received_at, session_day, elapsed_ms, played_ms, playback_rate)
SELECT md5(s.id || ':' || i)::uuid::text, s.id, s.track_id, NULL,
       CASE WHEN i = 0 THEN 'start' WHEN i = n THEN 'stop' WHEN i % 7 = 0 THEN 'pause'
            WHEN i % 11 = 0 THEN 'seek' ELSE 'progress' END,
       i * 10000, played / 1000.0,
       CASE WHEN i = 0 THEN 'hls' WHEN h % 10 = 0 AND i > n / 2 THEN 'aac_128'
            ELSE (ARRAY['aac_128','aac_256','aac_320','mp3_320','flac'])[1 + h % 5] END,
       s.territory, s.started_at + elapsed * interval '1 millisecond',
       s.started_at + elapsed * interval '1 millisecond', s.day, elapsed, played, 1.0
FROM (SELECT ps.*, hashtext(ps.id) & 2147483647 AS h, (hashtext(ps.id) & 2147483647) % 19 AS n
      FROM playback_sessions ps WHERE ps.id >= :lo AND ps.id < :hi) s,
LATERAL (SELECT i, CASE WHEN i = 0 THEN 0 ELSE i * 10000 + (i * 37) % 300 END AS elapsed,
                CASE WHEN i = 0 THEN 0 WHEN s.h % 20 = 0 THEN 15000 ELSE 10000 END AS played
         FROM generate_series(0, s.n) i) e;
"""

# New traffic: five more heartbeats for each of k/5 random sessions of the day (late, as far as the last
# refresh is concerned), written with their marks as the events endpoint writes them.
NEW_EVENTS_SQL = """
WITH picked AS (
  SELECT id, track_id, territory, started_at, day FROM playback_sessions TABLESAMPLE BERNOULLI (:pct)
  LIMIT :sessions
), stored AS (
  INSERT INTO playback_events (event_id, session_id, track_id, user_id, kind, position_ms, seconds_played,
    quality, territory, occurred_at, received_at, session_day, elapsed_ms, played_ms, playback_rate)
  SELECT md5(:tag || p.id || ':' || i)::uuid::text, p.id, p.track_id, NULL, 'progress', 200000 + i * 10000,
         10.0, 'aac_320', p.territory, p.started_at + (200 + i * 10) * interval '1 second',
         p.started_at + (200 + i * 10) * interval '1 second', p.day, 200000 + i * 10000, 10000, 1.0
  FROM picked p, generate_series(1, 5) i
  ON CONFLICT (session_id, event_id) DO NOTHING RETURNING session_id, session_day
)
INSERT INTO playback_dirty_sessions (session_id, day) SELECT DISTINCT session_id, session_day FROM stored
"""

NEW_SESSIONS_SQL = """
WITH made AS (
  INSERT INTO playback_sessions (id, user_id, track_id, territory, started_at, day, user_tier, quality)
  SELECT md5(:tag || g)::uuid::text, 1 + g % 5000, 1 + g % 7, 'DE',
         timestamptz '{day} 23:00:00+00' + g * interval '1 millisecond', DATE '{day}', 'free', 'hls'
  FROM generate_series(1, :n) g RETURNING id, track_id, started_at, day
), starts AS (
  INSERT INTO playback_events (event_id, session_id, track_id, kind, position_ms, seconds_played, quality,
    territory, occurred_at, received_at, session_day, elapsed_ms, played_ms)
  SELECT md5('start:' || id)::uuid::text, id, track_id, 'start', 0, 0, 'hls', 'DE', started_at, started_at,
         day, 0, 0 FROM made
)
INSERT INTO playback_dirty_sessions (session_id, day) SELECT id, day FROM made
"""


def generate(engine: Engine, sessions: int) -> int:
    t0 = time.perf_counter()
    with engine.begin() as c:
        c.execute(text("SET LOCAL session_replication_role = replica"))
        c.execute(text(SEED_SQL))
        c.execute(text(SESSIONS_SQL), {"n": sessions, "tag": "s"})
        c.execute(text("ALTER TABLE playback_events DROP CONSTRAINT uq_playback_events_session_event"))
        c.execute(text("DROP INDEX ix_playback_events_counting"))
        c.execute(text("DROP INDEX ix_playback_events_track_time"))
    for lo, hi in (("0", "8"), ("8", "g")):  # the md5 ids' first hex digit: two halves
        with engine.begin() as c:
            c.execute(text("SET LOCAL session_replication_role = replica"))
            c.execute(text(EVENTS_SQL), {"lo": lo, "hi": hi})
    with engine.begin() as c:
        c.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        c.execute(
            text(
                "ALTER TABLE playback_events ADD CONSTRAINT uq_playback_events_session_event "
                "UNIQUE (session_id, event_id)"
            )
        )
        c.execute(
            text(
                "CREATE INDEX ix_playback_events_counting ON playback_events "
                "(session_day, session_id, elapsed_ms) INCLUDE (played_ms, quality)"
            )
        )
        c.execute(
            text("CREATE INDEX ix_playback_events_track_time ON playback_events (track_id, occurred_at)")
        )
        n = c.execute(text("SELECT count(*) FROM playback_events")).scalar_one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    print(f"generated {n:,} events, {sessions:,} sessions for {DAY} in {time.perf_counter() - t0:.0f} s")
    return int(n)


def sums(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as c:
        row = c.execute(
            text(
                "SELECT count(*), sum(sessions), sum(streams), sum(discarded), sum(played_ms) "
                "FROM playback_daily"
            )
        ).one()
        discards = c.execute(
            text("SELECT count(*), coalesce(sum(discarded), 0) FROM playback_discards")
        ).one()
        plays = c.execute(text("SELECT sum(play_count) FROM tracks")).scalar_one()
    return (*(int(v) for v in row), *(int(v) for v in discards), int(plays))


def add_traffic(engine: Engine, events: int, total_sessions: int) -> None:
    tag = uuid.uuid4().hex
    picked = max(1, events // 5)
    pct = min(100.0, 150.0 * picked / total_sessions)
    with engine.begin() as c:
        c.execute(text(NEW_EVENTS_SQL), {"sessions": picked, "pct": pct, "tag": tag})
        c.execute(text(NEW_SESSIONS_SQL.format(day=DAY.isoformat())), {"n": max(1, events // 50), "tag": tag})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the schema (bench_rollups) for inspection")
    args = ap.parse_args()
    schema = "bench_rollups" if args.keep else f"bench_{uuid.uuid4().hex[:8]}"
    with pg_schema(schema, replace=True, keep=args.keep) as engine:
        run(engine, args.sessions)


def run(engine: Engine, n_sessions: int) -> None:
    rules = Royalties()
    migrate.upgrade(engine)
    n_events = generate(engine, n_sessions)
    fulls = [rollups.recompute(engine, start=DAY, end=DAY + timedelta(days=1), rules=rules) for _ in range(2)]
    full = min(r.seconds for r in fulls)
    # A recount rewrites the day's rollups and session outcomes: a day's worth of dead rows, which
    # autovacuum clears within minutes. The refreshes below start from vacuumed tables, as they run
    # in steady state, not through a day of dead index entries.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE playback_session_counts, playback_daily, playback_discards"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"full recount of the day ({n_events:,} events)   {full:7.2f} s  (runs "
          f"{' / '.join(f'{r.seconds:.2f}' for r in fulls)} s)")  # fmt: skip
    for k in (1_000, 10_000, 100_000):
        runs = []
        for _ in range(3):
            add_traffic(engine, k, n_sessions)
            done = rollups.refresh(engine, rules=rules)
            assert done.days == ()
            runs.append((done.seconds, done.sessions))
        best, sessions = min(runs)
        print(f"incremental refresh after {k:>7,} new events  {best:7.3f} s  ratio {best / full:.4f} of "
              f"the full recount; {best / k * 1e6:6.1f} us per new event, {best / sessions * 1e3:.2f} ms "
              f"per session ({sessions:,} recounted); runs {' / '.join(f'{s:.3f}' for s, _ in runs)} s; "
              f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    incremental = sums(engine)
    rollups.recompute(engine, start=DAY, end=DAY + timedelta(days=1), rules=rules)
    recount = sums(engine)
    print(f"rollup rows {recount[0]:,}; sessions {recount[1]:,}; streams {recount[2]:,}; "
          f"discarded {recount[3]:,}")  # fmt: skip
    assert incremental == recount, f"incremental {incremental} != full recount {recount}"
    print("after the incremental refreshes the rollups, discards and play counts equal a full recount")


if __name__ == "__main__":
    main()
