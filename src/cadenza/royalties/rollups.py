"""Stream counting in SQL: raw events → per-session credit → streams → daily rollups, one day at a time.

A day's rollup is rebuilt from scratch from the raw events of the sessions that started that day, so a
rebuild is idempotent and late or out-of-order events are simply included next time. Writers mark the
days they touch (`playback_dirty_days`); `refresh` rebuilds exactly those, `recompute` any range. A
month's figures are sums over its daily rows: reports never rescan raw events.

The per-session credit is the closed form of counting.credit_ms (see there): one running sum over the
session's events in time order, read straight off the `ix_playback_events_counting` index on
PostgreSQL (an index-only scan: no sort, no table access). The SQL is the same on both databases but
for LEAST/GREATEST and float-to-integer rounding, which `_Dialect` spells out."""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal

from sqlalchemy import Connection, Date, Engine, TextClause, bindparam, text
from sqlalchemy.orm import Session

from cadenza.db.base import UTCDateTime
from cadenza.royalties.counting import NO_CAP
from cadenza.royalties.rules import QUALITIES, UNKNOWN_TERRITORY, UNKNOWN_TIER, Royalties
from cadenza.royalties.statements import RightShare, TrackUsage

log = logging.getLogger(__name__)

_LOCK_KEY = 0x0C4D  # pg_advisory_xact_lock(_LOCK_KEY, day): one rebuild of a day at a time


@dataclass(frozen=True)
class _Dialect:
    name: str

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    @property
    def least(self) -> str:
        return "MIN" if self.name == "sqlite" else "LEAST"

    @property
    def intdiv(self) -> str:
        return "//" if self.name == "duckdb" else "/"  # DuckDB's `/` divides in floating point

    def floor_int(self, expr: str) -> str:
        # All evaluate `expr` in IEEE doubles; SQLite's CAST truncates (= floor for positive values).
        return f"CAST({expr} AS INTEGER)" if self.name == "sqlite" else f"CAST(FLOOR({expr}) AS BIGINT)"


def _dialect(conn: Connection) -> _Dialect:
    return _Dialect(conn.dialect.name)


def _quality_expr() -> str:
    """The quality with the most claimed play time in the session (ties: the earlier in QUALITIES)."""
    arms = []
    for i, q in enumerate(QUALITIES):
        beats = " AND ".join(f"c.q{i} >= c.q{j}" for j in range(len(QUALITIES)) if j != i)
        arms.append(f"WHEN c.q{i} > 0 AND {beats} THEN '{q}'")
    return f"CASE {' '.join(arms)} ELSE COALESCE(s.quality, 'hls') END"


def scored_sql(dialect: str, rules: Royalties, *, only: str | None = None) -> str:
    """CTEs ending in `scored`: one row per session with its dimensions and credited time, before the
    daily cap. Sessions of days [:d0, :d1), or, with `only`, those listed in that table of
    (session_id, day) rows (an incremental refresh)."""
    d = _Dialect(dialect)
    qsums = ",\n".join(
        f"    SUM(CASE WHEN quality = '{q}' THEN played_ms ELSE 0 END) AS q{i}"
        for i, q in enumerate(QUALITIES)
    )
    factor = repr(float(rules.duration_factor))
    if d.name != "sqlite":
        factor = f"CAST({factor} AS DOUBLE PRECISION)"
    capped = d.floor_int(f"t.duration_sec * {factor} * 1000")
    duration_cap = f"CASE WHEN t.duration_sec > 0 THEN {capped} ELSE {NO_CAP} END"
    rate, tolerance = int(rules.rate_permille), int(rules.tolerance_ms)
    headroom = f"CAST(e.elapsed_ms AS BIGINT) * {rate} {d.intdiv} 1000 + {tolerance}"
    if only is not None and d.postgres:
        # Session by session off the counting index (LATERAL; OFFSET 0 keeps the planner from turning it
        # into a join over the whole table), each one's window already in index order: no sort, and the
        # work follows the number of marked sessions, not the size of their days.
        ctes = "WITH "
        credit = f"""CROSS JOIN LATERAL (
    SELECT SUM(played_ms) + LEAST(0, MIN(headroom)) AS raw_ms,
{qsums}
    FROM (
      SELECT e.played_ms, e.quality,
             {headroom} - SUM(e.played_ms) OVER (ORDER BY e.elapsed_ms ROWS UNBOUNDED PRECEDING) AS headroom
      FROM playback_events e WHERE e.session_day = s.day AND e.session_id = s.id OFFSET 0
    ) w
  ) c"""
    else:
        if only is None:
            events = "FROM playback_events e\n  WHERE e.session_day >= :d0 AND e.session_day < :d1"
        else:
            on = "e.session_day = o.day AND e.session_id = o.session_id"
            events = f"FROM {only} o JOIN playback_events e ON {on}"
        ctes = f"""
WITH walked AS (
  SELECT e.session_day, e.session_id, e.played_ms, e.quality,
         {headroom}
           - SUM(e.played_ms) OVER (PARTITION BY e.session_day, e.session_id ORDER BY e.elapsed_ms
                                    ROWS UNBOUNDED PRECEDING) AS headroom
  {events}
), credit AS (
  SELECT session_id, SUM(played_ms) + {d.least}(0, MIN(headroom)) AS raw_ms,
{qsums}
  FROM walked GROUP BY session_day, session_id
), """
        credit = "LEFT JOIN credit c ON c.session_id = s.id"
    if only is None:
        sessions, where = "FROM playback_sessions s", "WHERE s.day >= :d0 AND s.day < :d1"
    else:
        sessions, where = f"FROM {only} o JOIN playback_sessions s ON s.id = o.session_id", ""
    return f"""{ctes}scored AS (
  SELECT s.id, s.day, s.track_id, s.user_id, s.started_at,
         COALESCE(s.territory, '{UNKNOWN_TERRITORY}') AS territory,
         COALESCE(s.user_tier, '{UNKNOWN_TIER}') AS user_tier,
         {d.least}(COALESCE(c.raw_ms, 0), {duration_cap}) AS credited_ms,
         {_quality_expr()} AS quality
  {sessions}
  JOIN tracks t ON t.id = s.track_id
  {credit}
  {where}
)"""


def _qualified(rules: Royalties) -> str:
    return f"CASE WHEN credited_ms >= {int(rules.threshold_ms)} THEN 1 ELSE 0 END"


def judged_sql(dialect: str, rules: Royalties) -> str:
    """CTEs ending in `judged`: one row per session of days [:d0, :d1) with its credit and verdict.
    `dialect`: postgresql, sqlite, or duckdb (the benchmark runs the very same counting there)."""
    cap, qualified = int(rules.daily_cap_per_track), _qualified(rules)
    return f"""{scored_sql(dialect, rules)}, ranked AS (
  SELECT scored.*, {qualified} AS qualified,
         ROW_NUMBER() OVER (
           PARTITION BY day, user_id, track_id, {qualified}, CASE WHEN user_id IS NULL THEN id END
           ORDER BY started_at, id) AS nth
  FROM scored
), judged AS (
  SELECT id AS session_id, day, track_id, user_id, started_at, territory, user_tier, quality,
         credited_ms, qualified,
         CASE WHEN qualified = 1 AND nth <= {cap} THEN 1 ELSE 0 END AS counted,
         CASE WHEN qualified = 1 AND nth > {cap} THEN 1 ELSE 0 END AS over_cap
  FROM ranked
)"""


def _daily_select(source: str, where: str = "") -> str:
    return f"""
SELECT day, track_id, territory, quality, user_tier, COUNT(*) AS sessions, SUM(counted) AS streams,
       SUM(over_cap) AS discarded, SUM(credited_ms) AS played_ms
FROM {source} {where} GROUP BY day, track_id, territory, quality, user_tier"""


DAILY_SELECT = _daily_select("judged")
_DAILY_COLS = "day, track_id, territory, quality, user_tier, sessions, streams, discarded, played_ms"
_COUNT_COLS = (
    "session_id, day, track_id, user_id, started_at, territory, user_tier, quality, credited_ms, qualified, "
    "counted, over_cap"
)
_C_COUNT_COLS = ", ".join(f"c.{col.strip()}" for col in _COUNT_COLS.split(","))
_IN_DAYS = "WHERE day >= :d0 AND day < :d1"


def _insert_discards(source: str, where: str = "WHERE") -> str:
    return f"""
INSERT INTO playback_discards (day, user_id, track_id, qualified, discarded)
SELECT day, user_id, track_id, SUM(qualified), SUM(over_cap)
FROM {source} {where} user_id IS NOT NULL GROUP BY day, user_id, track_id HAVING SUM(over_cap) > 0"""


_STREAMS_BY_TRACK = (
    "SELECT track_id, SUM(streams) FROM playback_daily WHERE day >= :d0 AND day < :d1 GROUP BY track_id"
)


def _sql(statement: str) -> TextClause:
    """Text SQL whose day and time parameters are bound like the columns store them (SQLite: strings)."""
    clause = text(statement)
    names = set(re.findall(r":(\w+)", statement))
    binds = [bindparam(n, type_=Date()) for n in ("d0", "d1", "d") if n in names]
    if "since" in names:
        binds.append(bindparam("since", type_=UTCDateTime()))
    return clause.bindparams(*binds) if binds else clause


def rebuild_days(
    conn: Connection, *, start: date, end: date, rules: Royalties, play_counts: bool = True
) -> None:
    """Replace the rollups and session outcomes of days [start, end) with a count from raw events (inside
    the caller's transaction), and move those days' tracks' play counts by the difference (unless the
    caller resyncs play counts itself)."""
    d = _dialect(conn)
    params = {"d0": start, "d1": end}
    before = {t: n for t, n in conn.execute(_sql(_STREAMS_BY_TRACK), params)} if play_counts else {}
    for table in ("playback_daily", "playback_discards", "playback_session_counts"):
        conn.execute(_sql(f"DELETE FROM {table} {_IN_DAYS}"), params)
    judged = judged_sql(d.name, rules)
    if d.postgres:  # one pass over the events feeds all three tables
        conn.execute(
            _sql(
                f"{judged}, kept AS (INSERT INTO playback_session_counts ({_COUNT_COLS}) "
                f"SELECT {_COUNT_COLS} FROM judged RETURNING 1), "
                f"discards AS ({_insert_discards('judged')} RETURNING 1)\n"
                f"INSERT INTO playback_daily ({_DAILY_COLS}){DAILY_SELECT}"
            ),
            params,
        )
    else:  # the outcomes once, then both tables from them
        conn.execute(
            _sql(
                f"{judged}\nINSERT INTO playback_session_counts ({_COUNT_COLS}) "
                f"SELECT {_COUNT_COLS} FROM judged"
            ),
            params,
        )
        counts = "playback_session_counts"
        conn.execute(
            _sql(f"INSERT INTO playback_daily ({_DAILY_COLS})" + _daily_select(counts, _IN_DAYS)), params
        )
        conn.execute(_sql(_insert_discards(counts, _IN_DAYS + " AND")), params)
    if not play_counts:
        return
    after = {t: n for t, n in conn.execute(_sql(_STREAMS_BY_TRACK), params)}
    # Play counts move by the change in these days' streams.
    delta = [
        {"id": t, "n": int(after.get(t, 0)) - int(before.get(t, 0))}
        for t in sorted(before.keys() | after.keys())
        if after.get(t, 0) != before.get(t, 0)
    ]
    _add_play_counts(conn, delta)


def _lock_play_counts(conn: Connection) -> None:
    # Rebuilds of different days may run at once; they update play counts one at a time, so their row
    # locks on `tracks` are never taken in two orders (no deadlock), and only until the commit after.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k, 0)"), {"k": _LOCK_KEY})


def _add_play_counts(conn: Connection, delta: list[dict[str, int]]) -> None:
    """tracks.play_count += n, a few thousand rows per statement."""
    if not delta:
        return
    _lock_play_counts(conn)
    for start in range(0, len(delta), 4000):
        chunk = delta[start : start + 4000]
        values = ", ".join(f"(:t{i}, :n{i})" for i in range(len(chunk)))
        params = {f"t{i}": row["id"] for i, row in enumerate(chunk)}
        params.update({f"n{i}": row["n"] for i, row in enumerate(chunk)})
        conn.execute(
            text(
                f"UPDATE tracks SET play_count = play_count + v.column2 FROM (VALUES {values}) AS v "
                "WHERE tracks.id = v.column1"
            ),
            params,
        )


def _lock_day(conn: Connection, day: date) -> None:
    if conn.dialect.name == "postgresql":  # SQLite has one writer at a time anyway
        conn.execute(text("SELECT pg_advisory_xact_lock(:k, :d)"), {"k": _LOCK_KEY, "d": day.toordinal()})


def _prepare(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # The day's sessions are joined and ranked in memory; the events stream through the index.
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(text("SET LOCAL jit = off"))
        # A rebuild commits its day's marks with it: if a crash loses the commit, the marks come back
        # and the day is rebuilt again. Nothing to wait for the disk for.
        conn.execute(text("SET LOCAL synchronous_commit = off"))


@dataclass(frozen=True)
class RefreshResult:
    days: tuple[date, ...]  # rebuilt whole
    seconds: float
    sessions: int = 0  # recounted one by one (the incremental part)


def refresh(engine: Engine, *, rules: Royalties, max_days: int | None = None) -> RefreshResult:
    """Fold every write since the last refresh into the rollups: first the days marked for a whole
    rebuild (oldest first, each in its own transaction), then, in one transaction, the sessions marked
    by event writers (`refresh_sessions`).

    Marks are deleted first, in the same transaction as the recount: a write committed after that
    statement leaves a new mark (and its events may or may not be in this recount), so nothing is ever
    missed, and a recount is idempotent, so seeing an event twice changes nothing."""
    t0 = time.perf_counter()
    done: list[date] = []
    while max_days is None or len(done) < max_days:
        with engine.begin() as conn:
            _prepare(conn)
            picked = conn.execute(
                text(
                    "DELETE FROM playback_dirty_days WHERE day = (SELECT MIN(day) FROM playback_dirty_days) "
                    "RETURNING day"
                )
            ).first()
            if picked is None:
                break
            day = _as_date(picked[0])
            _lock_day(conn, day)
            rebuild_days(conn, start=day, end=day + timedelta(days=1), rules=rules)
        done.append(day)
    sessions = refresh_sessions(engine, rules=rules) if max_days is None else 0
    return RefreshResult(tuple(done), time.perf_counter() - t0, sessions)


# Work tables of an incremental refresh (temporary: private to its connection, gone at commit on
# PostgreSQL). Days are typed like the tables' own columns, so SQLite compares the same text.
_OUTCOME = (
    "session_id VARCHAR(36) NOT NULL, day DATE NOT NULL, track_id BIGINT NOT NULL, user_id BIGINT, "
    "started_at {ts} NOT NULL, territory CHAR(2) NOT NULL, user_tier VARCHAR(16) NOT NULL, "
    "quality VARCHAR(32) NOT NULL, credited_ms BIGINT NOT NULL, qualified INTEGER NOT NULL, "
    "counted INTEGER NOT NULL, over_cap INTEGER NOT NULL"
)
_WORK_TABLES = {
    "refresh_sessions": "session_id VARCHAR(36) NOT NULL, day DATE NOT NULL",
    # The marked sessions' outcomes as the rollups hold them, and as recounted (before the cap).
    "refresh_before": _OUTCOME,
    "refresh_after": _OUTCOME,
    "refresh_groups": "day DATE NOT NULL, user_id BIGINT NOT NULL, track_id BIGINT NOT NULL",
    # Every session of the groups whose cap ranking may change, with its verdict before and now.
    "refresh_members": (
        "session_id VARCHAR(36) NOT NULL, day DATE NOT NULL, user_id BIGINT NOT NULL, "
        "track_id BIGINT NOT NULL, territory CHAR(2) NOT NULL, quality VARCHAR(32) NOT NULL, "
        "user_tier VARCHAR(16) NOT NULL, "
        "qualified INTEGER NOT NULL, counted INTEGER NOT NULL, over_cap INTEGER NOT NULL, "
        "now_counted INTEGER NOT NULL, now_over_cap INTEGER NOT NULL"
    ),
    # Sessions whose verdict the cap ranking changes, with the change.
    "refresh_reranked": (
        "session_id VARCHAR(36) NOT NULL, day DATE NOT NULL, track_id BIGINT NOT NULL, "
        "territory CHAR(2) NOT NULL, quality VARCHAR(32) NOT NULL, user_tier VARCHAR(16) NOT NULL, "
        "counted INTEGER NOT NULL, over_cap INTEGER NOT NULL, d_counted INTEGER NOT NULL, "
        "d_over_cap INTEGER NOT NULL"
    ),
    # Changes to playback_daily, one row per rollup row that moves.
    "refresh_delta": (
        "day DATE NOT NULL, track_id BIGINT NOT NULL, territory CHAR(2) NOT NULL, "
        "quality VARCHAR(32) NOT NULL, user_tier VARCHAR(16) NOT NULL, sessions BIGINT, streams BIGINT, "
        "discarded BIGINT, played_ms BIGINT"
    ),
}
_DIM = "day, track_id, territory, quality, user_tier"
_IN_GROUP = "c.day = g.day AND c.user_id = g.user_id AND c.track_id = g.track_id"

# The groups whose cap ranking may change: each marked session's listener, track and day, before and after.
_GROUPS = """
INSERT INTO refresh_groups (day, user_id, track_id)
SELECT day, user_id, track_id FROM refresh_before WHERE user_id IS NOT NULL
UNION
SELECT day, user_id, track_id FROM refresh_after WHERE user_id IS NOT NULL"""

# The daily cap again, for the affected groups only (sessions without a listener are never capped): every
# session of those groups with its verdict now, read once for the changes and the groups' discards (the
# marked sessions were stored uncapped).
_MEMBERS = """
INSERT INTO refresh_members
SELECT session_id, day, user_id, track_id, territory, quality, user_tier, qualified, counted, over_cap,
       CASE WHEN qualified = 1 AND nth <= {cap} THEN 1 ELSE 0 END,
       CASE WHEN qualified = 1 AND nth > {cap} THEN 1 ELSE 0 END
FROM (
  SELECT c.session_id, c.day, c.user_id, c.track_id, c.territory, c.quality, c.user_tier, c.qualified,
         c.counted, c.over_cap,
         ROW_NUMBER() OVER (PARTITION BY c.day, c.user_id, c.track_id, c.qualified
                            ORDER BY c.started_at, c.session_id) AS nth
  FROM refresh_groups g JOIN playback_session_counts c ON {in_group}
) r"""

_RERANK = """
INSERT INTO refresh_reranked
SELECT session_id, day, track_id, territory, quality, user_tier, now_counted, now_over_cap,
       now_counted - counted, now_over_cap - over_cap
FROM refresh_members WHERE now_counted <> counted OR now_over_cap <> over_cap"""

_APPLY_RERANK = """
UPDATE playback_session_counts SET counted = r.counted, over_cap = r.over_cap
FROM refresh_reranked r WHERE playback_session_counts.session_id = r.session_id"""

# New contributions minus old ones, per rollup row: all from the work tables (no second reading of the
# big ones).
_DELTA = f"""
INSERT INTO refresh_delta
SELECT {_DIM}, SUM(n), SUM(counted), SUM(over_cap), SUM(credited_ms) FROM (
  SELECT {_DIM}, -1 AS n, -counted AS counted, -over_cap AS over_cap, -credited_ms AS credited_ms
  FROM refresh_before
  UNION ALL
  SELECT {_DIM}, 1, counted, over_cap, credited_ms FROM refresh_after
  UNION ALL
  SELECT {_DIM}, 0, d_counted, d_over_cap, 0 FROM refresh_reranked
) u
GROUP BY {_DIM}
HAVING SUM(n) <> 0 OR SUM(counted) <> 0 OR SUM(over_cap) <> 0 OR SUM(credited_ms) <> 0"""

_APPLY_DELTA = f"""
INSERT INTO playback_daily ({_DAILY_COLS})
SELECT {_DAILY_COLS} FROM refresh_delta WHERE true
ON CONFLICT ({_DIM}) DO UPDATE SET
  sessions = playback_daily.sessions + excluded.sessions,
  streams = playback_daily.streams + excluded.streams,
  discarded = playback_daily.discarded + excluded.discarded,
  played_ms = playback_daily.played_ms + excluded.played_ms
RETURNING {_DIM}, sessions"""

_DISCARDS_DELETE = {
    # Group by group off the primary key (day, user_id, track_id).
    "postgresql": """
DELETE FROM playback_discards d USING refresh_groups g
WHERE d.day = g.day AND d.user_id = g.user_id AND d.track_id = g.track_id""",
    "sqlite": """
DELETE FROM playback_discards WHERE EXISTS (
  SELECT 1 FROM refresh_groups g WHERE g.day = playback_discards.day
    AND g.user_id = playback_discards.user_id AND g.track_id = playback_discards.track_id)""",
}

# Only tracks and listeners that still exist (the table's keys); a full recount only sees those.
_DISCARDS_INSERT = """
INSERT INTO playback_discards (day, user_id, track_id, qualified, discarded)
SELECT m.day, m.user_id, m.track_id, SUM(m.qualified), SUM(m.now_over_cap)
FROM refresh_members m
GROUP BY m.day, m.user_id, m.track_id
HAVING SUM(m.now_over_cap) > 0
  AND EXISTS (SELECT 1 FROM tracks t WHERE t.id = m.track_id)
  AND EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id)"""


def refresh_sessions(engine: Engine, *, rules: Royalties) -> int:
    """Recount the sessions marked since the last refresh, and only them; return how many.

    Cost follows the new events, not the day, and each big table is reached once per marked session, by
    key, in key order (the marks are sorted first): the session's old outcome is taken out of
    `playback_session_counts` (kept in a work table), its events are read again off the counting index
    and its new outcome stored; the daily cap is ranked again only within the marked sessions' (listener,
    track, day) groups, and only the sessions whose verdict that changes are written. The change to the
    rollups is then summed from the work tables alone (new outcomes - old ones + verdict changes). The
    result is the same as a full recount of those days (tested on random event streams with late and
    duplicate events, on both databases).

    One incremental refresh runs at a time (an advisory lock on PostgreSQL; SQLite has one writer), and
    it takes the lock of each day it touches, in order, so a whole-day rebuild never interleaves with it."""
    conn_opts = {"sqlite_immediate": True}
    with engine.connect().execution_options(**conn_opts) as conn, conn.begin():
        d = _dialect(conn)
        _prepare(conn)
        if d.postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k, -1)"), {"k": _LOCK_KEY})
            # Every statement below starts from the small work tables and reaches into the big ones by
            # key; a hash or merge join would scan a whole table (a day of events) instead.
            conn.execute(text("SET LOCAL enable_hashjoin = off"))
            conn.execute(text("SET LOCAL enable_mergejoin = off"))
        ts = "TIMESTAMP WITH TIME ZONE" if d.postgres else "TEXT"
        for name, columns in _WORK_TABLES.items():
            columns = columns.format(ts=ts)
            if d.postgres:
                conn.execute(text(f"CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP"))
            else:
                conn.execute(text(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({columns})"))
                conn.execute(text(f"DELETE FROM {name}"))
        taken = _take_marks(conn)
        if not taken:
            return 0
        for (day,) in conn.execute(text("SELECT DISTINCT day FROM refresh_sessions ORDER BY day")):
            _lock_day(conn, _as_date(day))
        if d.postgres:  # the planner knows nothing of fresh temporary tables
            conn.execute(text("ANALYZE refresh_sessions"))
        _take_outcomes(conn)
        # Outcomes of the marked sessions, provisionally uncapped; the ranking below caps them.
        conn.execute(
            _sql(
                f"{scored_sql(d.name, rules, only='refresh_sessions')}\n"
                f"INSERT INTO refresh_after ({_COUNT_COLS}) "
                f"SELECT id, day, track_id, user_id, started_at, territory, user_tier, quality, credited_ms, "
                f"{_qualified(rules)}, {_qualified(rules)}, 0 FROM scored"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO playback_session_counts ({_COUNT_COLS}) "
                f"SELECT {_COUNT_COLS} FROM refresh_after ORDER BY session_id"
            )
        )
        conn.execute(text(_GROUPS))
        if d.postgres:
            conn.execute(text("ANALYZE refresh_groups"))
        conn.execute(text(_MEMBERS.format(cap=int(rules.daily_cap_per_track), in_group=_IN_GROUP)))
        conn.execute(text(_RERANK))
        if d.postgres:
            conn.execute(text("ANALYZE refresh_reranked"))
        conn.execute(text(_APPLY_RERANK))
        conn.execute(text(_DELTA))
        emptied = [
            {"day": r[0], "track_id": r[1], "territory": r[2], "quality": r[3], "user_tier": r[4]}
            for r in conn.execute(text(_APPLY_DELTA))
            if r[5] == 0
        ]
        if emptied:  # a full recount has no row for a combination without sessions
            conn.execute(
                text(
                    "DELETE FROM playback_daily WHERE day = :day AND track_id = :track_id "
                    "AND territory = :territory AND quality = :quality AND user_tier = :user_tier"
                ),
                emptied,
            )
        conn.execute(text(_DISCARDS_DELETE["postgresql" if d.postgres else "sqlite"]))
        conn.execute(text(_DISCARDS_INSERT))
        moved = conn.execute(
            text(
                "SELECT track_id, SUM(streams) FROM refresh_delta GROUP BY track_id HAVING SUM(streams) <> 0 "
                "ORDER BY track_id"
            )
        )
        _add_play_counts(conn, [{"id": t, "n": int(n)} for t, n in moved])
        return taken


def _take_marks(conn: Connection) -> int:
    """Move the marks into `refresh_sessions` (one row per session, in the counting index's order) and
    delete them, atomically: the marks deleted are exactly the ones read."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "WITH taken AS (DELETE FROM playback_dirty_sessions RETURNING session_id, day) "
                "INSERT INTO refresh_sessions (session_id, day) "
                "SELECT DISTINCT session_id, day FROM taken ORDER BY day, session_id"
            )
        )
    else:
        rows = {
            (sid, day)
            for sid, day in conn.execute(
                text("DELETE FROM playback_dirty_sessions RETURNING session_id, day")
            )
        }
        if rows:
            conn.execute(
                text("INSERT INTO refresh_sessions (session_id, day) VALUES (:s, :d)"),
                [{"s": sid, "d": day} for sid, day in sorted(rows, key=lambda r: (r[1], r[0]))],
            )
    return int(conn.execute(text("SELECT COUNT(*) FROM refresh_sessions")).scalar_one())


def _take_outcomes(conn: Connection) -> None:
    """Move the marked sessions' stored outcomes into `refresh_before` (one probe of the primary key per
    session on PostgreSQL: the delete returns what it removes)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                f"WITH gone AS (DELETE FROM playback_session_counts c USING refresh_sessions o "
                f"WHERE c.session_id = o.session_id RETURNING c.*) "
                f"INSERT INTO refresh_before ({_COUNT_COLS}) SELECT {_COUNT_COLS} FROM gone"
            )
        )
        return
    conn.execute(
        text(
            f"INSERT INTO refresh_before ({_COUNT_COLS}) SELECT {_C_COUNT_COLS} "
            "FROM refresh_sessions o JOIN playback_session_counts c ON c.session_id = o.session_id"
        )
    )
    conn.execute(
        text(
            "DELETE FROM playback_session_counts "
            "WHERE session_id IN (SELECT session_id FROM refresh_sessions)"
        )
    )


def recompute(engine: Engine, *, start: date, end: date, rules: Royalties, workers: int = 1) -> RefreshResult:
    """Recount days [start, end) from raw events whether marked or not (after a rules change, an audit,
    a benchmark); days are spread over `workers` connections (PostgreSQL; SQLite uses one)."""
    t0 = time.perf_counter()
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    if engine.dialect.name != "postgresql":
        workers = 1

    def one(day: date) -> date:
        with engine.begin() as conn:
            _prepare(conn)
            conn.execute(_sql("DELETE FROM playback_dirty_days WHERE day = :d"), {"d": day})
            _lock_day(conn, day)
            rebuild_days(conn, start=day, end=day + timedelta(days=1), rules=rules, play_counts=False)
        return day

    if workers <= 1:
        done = [one(day) for day in days]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cadenza-recount") as pool:
            done = list(pool.map(one, days))
    resync_play_counts(engine)
    return RefreshResult(tuple(done), time.perf_counter() - t0)


def resync_play_counts(engine: Engine) -> None:
    """Set every counted track's play count to its streams in the rollups (after a recount, which moves
    many days at once: one pass instead of one update per track per day)."""
    with engine.begin() as conn:
        _lock_play_counts(conn)
        conn.execute(
            text(
                "UPDATE tracks SET play_count = x.n FROM "
                "(SELECT track_id, SUM(streams) AS n FROM playback_daily GROUP BY track_id) AS x "
                "WHERE tracks.id = x.track_id AND tracks.play_count <> x.n"
            )
        )


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def usage(session: Session, *, territory: str, start: date, end: date) -> list[TrackUsage]:
    """Counted and discarded streams per track in a territory over days [start, end), from the rollups."""
    rows = session.execute(
        _sql(
            """
SELECT u.track_id, t.title, t.isrc, u.streams, u.discarded FROM (
  SELECT track_id, SUM(streams) AS streams, SUM(discarded) AS discarded FROM playback_daily
  WHERE territory = :t AND day >= :d0 AND day < :d1 GROUP BY track_id
) u JOIN tracks t ON t.id = u.track_id
WHERE u.streams > 0 OR u.discarded > 0
ORDER BY u.track_id"""
        ),
        {"t": territory, "d0": start, "d1": end},
    )
    return [TrackUsage(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


def stream_rights(session: Session, *, territory: str, start: date, end: date) -> list[RightShare]:
    """Stream rights that pay for territory `territory` in days [start, end): worldwide or for exactly that
    territory, and not expired before the period starts; for the tracks streamed there in the period."""
    rows = session.execute(
        _sql(
            """
SELECT r.track_id, r.holder_id, h.name, r.share_pct FROM track_rights r
LEFT JOIN rights_holders h ON h.id = r.holder_id
WHERE r.right_type = 'stream'
  AND (r.territory IS NULL OR r.territory = :t)
  AND (r.expires_at IS NULL OR r.expires_at > :since)
  AND r.track_id IN (
    SELECT DISTINCT track_id FROM playback_daily WHERE territory = :t AND day >= :d0 AND day < :d1)
ORDER BY r.track_id, r.holder_id, r.id"""
        ),
        {"t": territory, "d0": start, "d1": end, "since": _midnight(start)},
    )
    return [RightShare(r[0], r[1], r[2], Decimal(str(r[3])).quantize(Decimal("0.01"))) for r in rows]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=UTC)


@dataclass(frozen=True)
class StatRow:
    track_id: int
    territory: str
    quality: str
    user_tier: str
    sessions: int
    streams: int
    discarded: int
    played_ms: int


def stats(
    session: Session,
    *,
    start: date,
    end: date,
    territory: str | None = None,
    track_id: int | None = None,
    limit: int = 1000,
) -> list[StatRow]:
    """Sessions, streams, discards and credited time per track, territory, quality and listener tier over
    days [start, end), from the rollups; optionally for one territory or one track."""
    where = ["day >= :d0", "day < :d1"]
    params: dict[str, object] = {"d0": start, "d1": end, "limit": limit}
    if territory is not None:
        where.append("territory = :t")
        params["t"] = territory
    if track_id is not None:
        where.append("track_id = :track")
        params["track"] = track_id
    rows = session.execute(
        _sql(
            f"""
SELECT track_id, territory, quality, user_tier, SUM(sessions), SUM(streams), SUM(discarded), SUM(played_ms)
FROM playback_daily WHERE {" AND ".join(where)}
  AND track_id IN (SELECT id FROM tracks)
GROUP BY track_id, territory, quality, user_tier
ORDER BY track_id, territory, quality, user_tier LIMIT :limit"""
        ),
        params,
    )
    return [StatRow(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]), int(r[7])) for r in rows]


class RollupRefresher:
    """Folds new events into the rollups (and play counts into the catalog) every `interval` seconds."""

    def __init__(self, engine: Engine, *, rules: Royalties, interval: float | None = None) -> None:
        self._engine = engine
        self._rules = rules
        self._interval = rules.refresh_interval_sec if interval is None else interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="cadenza-rollups", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                refresh(self._engine, rules=self._rules)
            except Exception:  # the marks stay; the next tick tries again
                log.exception("refreshing playback rollups failed; will retry")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
