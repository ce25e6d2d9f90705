"""Benchmark 4 (royalties): stream counting and royalty reports on PostgreSQL against DuckDB, and event
ingestion through the HTTP batch API.

1. Generates ~10 million playback events (~1 million sessions, 5,000 tracks, 50,000 listeners) for one
   month straight into PostgreSQL, in a schema of its own.
2. Times (1) a full recount of the month from the raw events into the daily rollups (`rollups.recompute`,
   two connections) and (2) the month's royalty report from the rollups (CSV and JSON).
3. Exports the same events, sessions and tracks to Parquet and times DuckDB running the very same
   counting SQL over them (and, for reference, a plain GROUP BY); checks that both agree.
4. Starts the real server (Granian, as `cadenza serve`) and loads POST /api/playback/events with wrk
   posting batches of 500 new events on several connections; counts what was stored.

    .venv/bin/python bench/royalties.py [--sessions 1000000] [--http-seconds 10] [--connections 8]

Targets: (1) <= 4x DuckDB, (2) <= 0.5x DuckDB's counting time, HTTP >= 20,000 events/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cadenza.db import migrate  # noqa: E402
from cadenza.db.engine import make_session_factory  # noqa: E402
from cadenza.royalties import rollups, service  # noqa: E402
from cadenza.royalties.rules import Royalties  # noqa: E402
from harness import pg_schema, schema_url, start_server, stop, wrk  # noqa: E402

MONTH = date(2026, 10, 1)
DAYS = 31
TRACKS, USERS, HOLDERS = 5000, 50_000, 300

SEED_SQL = f"""
INSERT INTO users (email, display_name, password_hash, role, tier, created_at)
SELECT 'listener' || g || '@bench.example', 'Listener ' || g, 'x', 'listener',
       (ARRAY['free', 'free', 'premium', 'hifi'])[1 + g % 4], now()
FROM generate_series(1, {USERS}) g;
INSERT INTO tracks (title, duration_sec, status, play_count, created_at, updated_at, isrc)
SELECT 'Track ' || g, 120 + (g * 37) % 240, 'ready', 0, now(), now(), 'QZBEN' || lpad(g::text, 7, '0')
FROM generate_series(1, {TRACKS}) g;
INSERT INTO rights_holders (name, created_at)
SELECT 'Label ' || g, now() FROM generate_series(1, {HOLDERS}) g;
-- most tracks: one worldwide holder; every 20th: split 60/40; every 10th: a DE licensee on top (shares
-- then add up to 150 and are normalized); every 50th: no stream right at all (unallocated).
INSERT INTO track_rights (track_id, territory, right_type, holder_id, share_pct, created_at)
SELECT t.id, NULL, 'stream', 1 + t.id % {HOLDERS}, CASE WHEN t.id % 20 = 0 THEN 60 ELSE 100 END, now()
FROM tracks t WHERE t.id % 50 <> 0;
INSERT INTO track_rights (track_id, territory, right_type, holder_id, share_pct, created_at)
SELECT t.id, NULL, 'stream', 1 + (t.id + 7) % {HOLDERS}, 40, now() FROM tracks t WHERE t.id % 20 = 0;
INSERT INTO track_rights (track_id, territory, right_type, holder_id, share_pct, created_at)
SELECT t.id, 'DE', 'stream', 1 + (t.id + 13) % {HOLDERS}, 50, now()
FROM tracks t WHERE t.id % 10 = 0 AND t.id % 50 <> 0;
"""

# Sessions over the month: popular tracks and listeners are more likely (power-law draws); a few
# listeners replay one track all day (the anti-fraud cap discards their extra streams).
SESSIONS_SQL = f"""
INSERT INTO playback_sessions (id, user_id, track_id, territory, started_at, day, user_tier, quality)
SELECT id, user_id, track_id, territory, started_at, (started_at AT TIME ZONE 'UTC')::date,
       (SELECT tier FROM users u WHERE u.id = x.user_id), 'hls'
FROM (
  SELECT md5('s' || g)::uuid::text AS id,
         CASE WHEN g % 97 = 0 THEN 1 + g % 5
              ELSE 1 + floor(power(random(), 2) * {USERS})::bigint END AS user_id,
         CASE WHEN g % 97 = 0 THEN 1 + g % 2
              ELSE 1 + floor(power(random(), 3) * {TRACKS})::bigint END AS track_id,
         (ARRAY['DE','DE','DE','FR','US','US','GB','SE','NL','ES','IT','PL','BR','JP'])[1 + g % 14]
           AS territory,
         timestamptz '{MONTH.isoformat()} 00:00:00+00'
           + ((g - 1)::float8 / :n * {DAYS} * 86400) * interval '1 second' AS started_at
  FROM generate_series(1, :n) g
) x;
"""

# Per session: the recorder's start event, then a heartbeat about every 10 s (some are pauses or seeks,
# the last a stop). One session in 20 over-claims (15 s per 10 s heartbeat) and is clipped by counting.
EVENTS_SQL = """
INSERT INTO playback_events (event_id, session_id, track_id, user_id, kind, position_ms, seconds_played,
  quality, territory, occurred_at, received_at, session_day, elapsed_ms, played_ms, playback_rate)
SELECT md5(s.id || ':' || i)::uuid::text, s.id, s.track_id, s.user_id,
       CASE WHEN i = 0 THEN 'start' WHEN i = n THEN 'stop' WHEN i % 7 = 0 THEN 'pause'
            WHEN i % 11 = 0 THEN 'seek' ELSE 'progress' END,
       i * 10000, played / 1000.0,
       CASE WHEN i = 0 THEN 'hls' WHEN h % 10 = 0 AND i > n / 2 THEN 'aac_128'
            ELSE (ARRAY['aac_128','aac_256','aac_320','mp3_320','flac'])[1 + h % 5] END,
       s.territory, s.started_at + elapsed * interval '1 millisecond',
       s.started_at + elapsed * interval '1 millisecond', s.day, elapsed, played, 1.0
FROM (SELECT ps.*, hashtext(ps.id) & 2147483647 AS h, (hashtext(ps.id) & 2147483647) % 19 AS n
      FROM playback_sessions ps
      WHERE ps.day >= :d0 AND ps.day < :d1) s,
LATERAL (SELECT i, CASE WHEN i = 0 THEN 0 ELSE i * 10000 + (i * 37) % 300 END AS elapsed,
                CASE WHEN i = 0 THEN 0 WHEN s.h % 20 = 0 THEN 15000 ELSE 10000 END AS played
         FROM generate_series(0, s.n) i) e;
"""


def generate(engine: Engine, sessions: int) -> int:
    """Fill the month; secondary indexes on events are dropped for the load and rebuilt after (not timed)."""
    t0 = time.perf_counter()
    with engine.begin() as c:
        c.execute(text("SET LOCAL session_replication_role = replica"))  # consistent rows: skip FK triggers
        c.execute(text(SEED_SQL))
        c.execute(text(SESSIONS_SQL), {"n": sessions})
        uniques = c.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'playback_events'::regclass AND contype = 'u'"
            )
        ).all()
        indexes = c.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                "AND i.tablename = 'playback_events' AND i.indexname NOT IN "
                "(SELECT conname FROM pg_constraint WHERE conrelid = 'playback_events'::regclass)"
            )
        ).all()
        for name, _ in uniques:
            c.execute(text(f"ALTER TABLE playback_events DROP CONSTRAINT {name}"))
        for name, _ in indexes:
            c.execute(text(f"DROP INDEX {name}"))
    last = MONTH + timedelta(days=DAYS)
    halves = [(MONTH, MONTH + timedelta(days=16)), (MONTH + timedelta(days=16), last)]

    def load(days: tuple[date, date]) -> None:
        with engine.begin() as c:
            c.execute(text("SET LOCAL session_replication_role = replica"))
            c.execute(text(EVENTS_SQL), {"d0": days[0], "d1": days[1]})

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(load, halves))
    with engine.begin() as c:
        c.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for name, definition in uniques:
            c.execute(text(f"ALTER TABLE playback_events ADD CONSTRAINT {name} {definition}"))
        for _, definition in indexes:
            c.execute(text(definition))
        n = c.execute(text("SELECT count(*) FROM playback_events")).scalar_one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    print(f"generated {n:,} events, {sessions:,} sessions in {time.perf_counter() - t0:.0f} s")
    return int(n)


def export_parquet(engine: Engine, folder: Path) -> None:
    """The counting inputs as Parquet files (PostgreSQL → CSV → DuckDB → Parquet)."""
    import duckdb

    queries = {
        "playback_events": "SELECT session_day, session_id, elapsed_ms, played_ms, quality "
        "FROM playback_events",
        "playback_sessions": "SELECT id, day, track_id, user_id, territory, user_tier, quality, "
        "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS started_at "
        "FROM playback_sessions",
        "tracks": "SELECT id, duration_sec FROM tracks",
    }
    raw = engine.raw_connection()
    try:
        for name, query in queries.items():
            csv_path = folder / f"{name}.csv"
            statement = f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER)"
            with raw.cursor() as cur, csv_path.open("wb") as f, cur.copy(statement) as copy:  # type: ignore[attr-defined]
                for block in copy:
                    f.write(block)
            duck = duckdb.connect()
            duck.execute(
                f"COPY (SELECT * FROM read_csv('{csv_path}', header = true)) TO '{folder / name}.parquet' "
                "(FORMAT parquet)"
            )
            duck.close()
            csv_path.unlink()
    finally:
        raw.close()


def duckdb_counting(folder: Path, rules: Royalties) -> tuple[float, float, tuple[int, ...]]:
    """DuckDB running the same counting SQL over the Parquet files: (seconds, plain GROUP BY s, sums)."""
    import duckdb

    duck = duckdb.connect()
    for name in ("playback_events", "playback_sessions", "tracks"):
        duck.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{folder / name}.parquet')")
    sql = rollups.judged_sql("duckdb", rules) + rollups.DAILY_SELECT
    sql = sql.replace(":d0", f"DATE '{MONTH.isoformat()}'").replace(
        ":d1", f"DATE '{(MONTH + timedelta(days=DAYS)).isoformat()}'"
    )
    best = plain = float("inf")
    sums: tuple[int, ...] = ()
    for _ in range(2):  # the better of two runs (the first also warms the file cache)
        duck.execute("DROP TABLE IF EXISTS daily")
        t0 = time.perf_counter()
        duck.execute(f"CREATE TABLE daily AS {sql}")
        best = min(best, time.perf_counter() - t0)
        t0 = time.perf_counter()
        duck.execute(
            "CREATE OR REPLACE TABLE plain AS SELECT s.day, s.track_id, s.territory, count(*) AS n, "
            "sum(e.played_ms) AS ms FROM playback_events e JOIN playback_sessions s ON s.id = e.session_id "
            "GROUP BY ALL"
        )
        plain = min(plain, time.perf_counter() - t0)
        sums = tuple(
            int(v)
            for v in duck.execute(
                "SELECT count(*), sum(sessions), sum(streams), sum(discarded), sum(played_ms) FROM daily"
            ).fetchone()  # type: ignore[union-attr]
        )
    duck.close()
    return best, plain, sums


def pg_sums(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as c:
        row = c.execute(
            text(
                "SELECT count(*), sum(sessions), sum(streams), sum(discarded), sum(played_ms) "
                "FROM playback_daily WHERE day >= :d0 AND day < :d1"
            ),
            {"d0": MONTH, "d1": MONTH + timedelta(days=DAYS)},
        ).one()
    return tuple(int(v) for v in row)


def timed_report(engine: Engine, rules: Royalties) -> tuple[float, int]:
    sessions = make_session_factory(engine)
    request = service.ReportRequest.parse(
        period=MONTH.strftime("%Y-%m"), territory="DE", pool="10000", currency="EUR"
    )
    best, size = float("inf"), 0
    outputs = set()
    for _ in range(3):
        t0 = time.perf_counter()
        with sessions() as s:
            report = service.royalty_report(
                s, period=request.period, territory="DE", pool=request.pool, currency="EUR", rules=rules
            )
        csv_bytes = service.render(report, "csv")[0]
        json_bytes = service.render(report, "json")[0]
        best = min(best, time.perf_counter() - t0)
        outputs.add((csv_bytes, json_bytes))
        size = len(report.lines)
    assert len(outputs) == 1, "two runs of the report differ"
    return best, size


# ---------------------------------------------------------------------------------------------------
# HTTP ingestion

LUA = r"""
local sessions = {%(sessions)s}
local counter = 0
local started = 0
function setup(thread)
  started = started + 1
  thread:set("tid", started)  -- a global in the thread's own Lua state: ids never collide
end
function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer %(token)s"
  wrk.headers["Content-Type"] = "application/json"
end
request = function()
  local now = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ")
  local parts = {}
  for i = 1, %(batch)d do
    counter = counter + 1
    local sid = sessions[(counter %% #sessions) + 1]
    parts[i] = string.format(
      '{"id":"%%08x-%(run)04x-4000-8000-%%012x","session_id":"%%s","kind":"progress","occurred_at":"%%s",' ..
      '"seconds_played":0.5,"position_ms":%%d,"quality":"aac_256"}',
      tid, counter, sid, now, counter %% 100000)
  end
  local body = '{"sent_at":"' .. now .. '","events":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format(nil, "/api/playback/events", nil, body)
end
"""

BENCH_APP = """
from cadenza.web.app import create_app
"""


def _http_seed(engine: Engine, n_sessions: int) -> tuple[str, list[str]]:
    from cadenza.accounts import service as accounts
    from cadenza.accounts.models import User
    from cadenza.config import Accounts

    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        user = accounts.register(
            s, email="ingest@bench.example", password="bench password", display_name=None, cfg=Accounts()
        )
        account = s.get(User, user.id)
        assert account is not None
        token = accounts.issue_token(s, user=account, ttl=timedelta(hours=2)).token
        start = datetime.now(UTC) - timedelta(minutes=30)
        ids = [str(uuid.uuid4()) for _ in range(n_sessions)]
        s.execute(
            text(
                "INSERT INTO playback_sessions (id, user_id, track_id, territory, started_at, day, "
                "user_tier, quality) VALUES (:id, :u, :t, 'DE', :at, :day, 'premium', 'hls')"
            ),
            [
                {"id": i, "u": user.id, "t": 1 + k % TRACKS, "at": start, "day": start.date()}
                for k, i in enumerate(ids)
            ],
        )
    return token, ids


def _wrk(base: str, lua: Path, *, seconds: int, connections: int) -> tuple[int, float, int]:
    run = wrk(base, lua, duration=seconds, connections=connections, timeout="30s", report=False)
    return run.requests, run.seconds, run.non2xx


def http_ingestion(
    engine: Engine, schema: str, *, seconds: int, connections: int, rounds: int = 3
) -> tuple[list[float], int, int]:
    """Events per second through POST /api/playback/events on the real server, per round after a
    warm-up; and how many events were sent and stored in all (every one must be)."""
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    token, ids = _http_seed(engine, 2000)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        before = c.execute(text("SELECT count(*) FROM playback_events")).scalar_one()
        c.execute(text("CHECKPOINT"))  # the bulk load's WAL must not force a checkpoint during the runs
    tmp = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    (tmp / "royalties_bench_app.py").write_text(BENCH_APP)
    port = 8934
    env = {
        **os.environ,
        "CADENZA_DATA_DIR": str(tmp),
        "CADENZA_DATABASE_URL": schema_url(schema),
        "CADENZA_PORT": str(port),
        "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    # As `cadenza serve` runs it: Granian, one worker, two runtime threads.
    server = start_server(
        [sys.executable, "-c",
         "from granian import Granian; from granian.constants import Interfaces; "
         f"Granian('royalties_bench_app:create_app', factory=True, interface=Interfaces.ASGI, "
         f"address='127.0.0.1', port={port}, workers=1, runtime_threads=2).serve()"],
        env=env, port=port, cwd=tmp, tries=150,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    rates, sent, errors = [], 0, 0
    try:
        probe = httpx.post(
            f"{base}/api/playback/events", headers={"Authorization": f"Bearer {token}"}, json={"events": []}
        )
        assert probe.status_code == 200, probe.text
        for run in range(rounds + 1):  # run 0 warms up (caches, connections, hot pages) and is not timed
            lua = tmp / f"events{run}.lua"
            sessions = ",".join(f'"{i}"' for i in ids)
            lua.write_text(LUA % {"sessions": sessions, "token": token, "batch": 500, "run": run})
            requests, duration, failed = _wrk(
                base, lua, seconds=5 if run == 0 else seconds, connections=connections
            )
            sent += requests * 500
            errors += failed
            if run:
                rates.append(requests * 500 / duration)
    finally:
        stop(server)
        shutil.rmtree(tmp, ignore_errors=True)
    with engine.connect() as c:
        stored = c.execute(text("SELECT count(*) FROM playback_events")).scalar_one() - before
    if errors:
        print(f"  warning: {errors} non-2xx responses", file=sys.stderr)
    return rates, sent, int(stored)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1_000_000)
    ap.add_argument("--http-seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the schema (bench_royalties) for inspection")
    args = ap.parse_args()
    schema = "bench_royalties" if args.keep else f"bench_{uuid.uuid4().hex[:8]}"
    with pg_schema(schema, replace=True, keep=args.keep) as engine:
        _run(args, engine, schema)


def _run(args: argparse.Namespace, engine: Engine, schema: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="cadenza-parquet-"))
    rules = Royalties()
    try:
        migrate.upgrade(engine)
        events = generate(engine, args.sessions)

        # Twice, like DuckDB below: the first run writes the rollups and play counts for the first time,
        # the second replaces them.
        recounts = [
            rollups.recompute(engine, start=MONTH, end=MONTH + timedelta(days=DAYS), rules=rules, workers=2)
            for _ in range(2)
        ]
        t1 = min(r.seconds for r in recounts)
        ours = pg_sums(engine)
        t2, lines = timed_report(engine, rules)
        export_parquet(engine, folder)
        duck, plain, theirs = duckdb_counting(folder, rules)
        assert ours == theirs, f"PostgreSQL and DuckDB disagree: {ours} vs {theirs}"
        rates, sent, stored = http_ingestion(
            engine, schema, seconds=args.http_seconds, connections=args.connections
        )

        print(f"events {events:,}; sessions {ours[1]:,}; streams {ours[2]:,}; discarded {ours[3]:,}; "
              f"rollup rows {ours[0]:,}")  # fmt: skip
        print(f"DuckDB counting (same SQL, Parquet)   {duck:7.2f} s   (plain GROUP BY {plain:.2f} s)")
        runs = " / ".join(f"{r.seconds:.2f}" for r in recounts)
        print(f"(1) PostgreSQL full recount of month  {t1:7.2f} s   ratio {t1 / duck:.2f}  (target <= 4; "
              f"runs {runs} s)")  # fmt: skip
        print(f"(2) report from rollups ({lines} lines) {t2:7.2f} s   ratio {t2 / duck:.3f} (target <= 0.5)")
        each = " / ".join(f"{r:,.0f}" for r in rates)
        median = sorted(rates)[len(rates) // 2]
        print(f"HTTP ingestion  {median:9,.0f} events/s median of {each} ({args.connections} connections; "
              f"{stored:,} stored of {sent:,} sent; target >= 20,000)")  # fmt: skip
        assert stored >= sent, "events were lost"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
