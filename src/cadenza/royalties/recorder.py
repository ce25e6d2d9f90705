"""Playback sessions opened by the stream endpoint, written in batches off the request path.

Issuing a stream URL must not wait for a database commit; sessions (each with its `start` event) are
queued and a background thread writes them every `interval` seconds, atomically (on PostgreSQL one
statement, `_write_postgresql`; elsewhere one transaction); if the queue
holds `max_pending` (the database slow or down), new sessions are refused with 503. `flush()` writes
at once (the events endpoint calls it before it decides a session id is unknown; shutdown calls it).
Each session records its UTC day and the listener's tier at the time (looked up in the same write
when the caller did not pass it), and marks the session for the rollups' next refresh."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from sqlalchemy import Engine, Insert, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cadenza import ids
from cadenza.accounts.models import User
from cadenza.db.engine import engine_of
from cadenza.errors import Unavailable
from cadenza.royalties.models import PlaybackDirtySession, PlaybackEvent, PlaybackSession

log = logging.getLogger(__name__)

# After this many sessions written by a process, the playback tables' statistics are refreshed once.
ANALYZE_AFTER = 10_000


@dataclass(frozen=True)
class NewSession:
    id: str
    track_id: int
    user_id: int | None
    territory: str | None
    quality: str | None
    started_at: datetime
    user_tier: str | None = None  # the listener's tier now; looked up when the session is written if None


class SessionRecorder:
    def __init__(
        self, sessions: sessionmaker[Session], *, interval: float = 0.05, max_pending: int = 100_000
    ):
        self._sessions = sessions
        self._interval = interval
        self._max_pending = max_pending
        self._pending: list[NewSession] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = 0
        self._analyzed = False
        self._postgresql = engine_of(sessions).dialect.name == "postgresql"

    def record(self, s: NewSession) -> None:
        """Queue a session for the writer thread. When `max_pending` are already waiting (the database
        has been slow or down for a while), refuse with `Unavailable` (HTTP 503): a stream that cannot
        be accounted for is not started, and the caller's thread (the event loop) never waits for the
        database."""
        with self._lock:
            if len(self._pending) >= self._max_pending:
                raise Unavailable("playback cannot be recorded right now; try again shortly")
            self._pending.append(s)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="cadenza-sessions", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self._interval)
            try:
                self.flush()
            except Exception:  # the batch stays queued and is tried again next tick
                log.exception("writing playback sessions failed; will retry")

    def flush(self) -> int:
        """Write everything queued so far; return how many sessions were written."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                try:
                    self._write_once(batch, fast=True)
                except (IntegrityError, psycopg.IntegrityError):
                    # A retry of a batch whose commit landed while its answer was lost (a dropped
                    # connection): write what is missing, or the batch would fail for ever.
                    self._write_once(batch, fast=False)
            except BaseException:
                with self._lock:
                    self._pending[:0] = batch
                raise
            self._written += len(batch)
            if not self._analyzed and self._written >= ANALYZE_AFTER:
                self._analyzed = True
                self._analyze()
            return len(batch)

    def _analyze(self) -> None:
        """Fresh statistics for the playback tables, once per process (PostgreSQL).

        Each connection plans its foreign-key checks once. A plan made while `playback_sessions` was
        small, on a database whose tables had been analyzed empty, scans the table for every event, and
        keeps doing so as it grows until the table is analyzed again, which autovacuum may not do for
        minutes under load: a 10,000-session batch then took 22 s and the queue filled (bench/stream_api.py
        stalled for seconds; a full queue now refuses new sessions instead). ANALYZE invalidates those
        plans in every connection."""
        engine = engine_of(self._sessions)
        if engine.dialect.name != "postgresql":
            return
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE playback_sessions"))
                conn.execute(text("ANALYZE playback_events"))
        except Exception:  # statistics are an optimisation: autovacuum gets there eventually
            log.exception("analyzing the playback tables failed")

    def _write_once(self, batch: list[NewSession], *, fast: bool) -> None:
        if fast and self._postgresql:
            _write_postgresql(engine_of(self._sessions), batch)
            return
        with self._sessions() as db, db.begin():
            db.connection(execution_options={"sqlite_immediate": True})  # reads tiers, then writes
            _write(db, batch, fast=fast)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.flush()


def new_session(
    *,
    track_id: int,
    user_id: int | None,
    territory: str | None,
    quality: str | None,
    at: datetime,
    user_tier: str | None = None,
) -> NewSession:
    """A session with a random id: unguessable, since it also authorizes the player's beacon reports."""
    return NewSession(str(ids.uuid4()), track_id, user_id, territory, quality, at, user_tier)


# PostgreSQL's batch in one statement: the sessions from one array per column, each one's start event
# made from its session row in SQL (its id computed in Python: `_start_event_id`), the listener's tier
# looked up where the caller did not pass it, and one rollup mark per session. The events are inserted
# from the sessions' RETURNING, so their foreign key finds the sessions of the same statement.
_BATCH_SQL = """
WITH given AS (
    SELECT * FROM unnest(%(id)s::text[], %(track_id)s::bigint[], %(user_id)s::bigint[],
                         %(territory)s::text[], %(started_at)s::timestamptz[], %(day)s::date[],
                         %(user_tier)s::text[], %(quality)s::text[], %(event_id)s::text[])
        AS g(id, track_id, user_id, territory, started_at, day, user_tier, quality, event_id)
), opened AS (
    INSERT INTO playback_sessions (id, track_id, user_id, territory, started_at, day, user_tier, quality)
    SELECT g.id, g.track_id, g.user_id, g.territory, g.started_at, g.day,
           CASE WHEN g.user_tier IS NOT NULL OR g.user_id IS NULL THEN g.user_tier
                ELSE (SELECT u.tier FROM users u WHERE u.id = g.user_id) END,
           g.quality
    FROM given g
    RETURNING id
), started AS (
    INSERT INTO playback_events (event_id, session_id, track_id, user_id, kind, position_ms, seconds_played,
                                 quality, territory, occurred_at, received_at, session_day, elapsed_ms,
                                 played_ms)
    SELECT g.event_id, g.id, g.track_id, NULL, 'start', 0, 0.0, g.quality, g.territory, g.started_at,
           g.started_at, g.day, 0, 0
    FROM opened o JOIN given g ON g.id = o.id
)
INSERT INTO playback_dirty_sessions (session_id, day) SELECT id, day FROM given
"""


def _write_postgresql(engine: Engine, batch: list[NewSession]) -> None:
    """Write a batch on PostgreSQL in one statement, in autocommit (one statement is atomic by itself):
    a pool checkout and one round trip, where the ORM session with COPY took nine (pre-ping, BEGIN, the
    day marks, two COPYs of three messages each, COMMIT) and about 2.3 ms of this thread's CPU per
    batch, whatever its size, on a thread that shares the GIL with the request path. The rows are
    plain arrays, one per column; psycopg dumps them in C."""
    columns: dict[str, list[object]] = {
        "id": [], "track_id": [], "user_id": [], "territory": [], "started_at": [], "day": [],
        "user_tier": [], "quality": [], "event_id": [],
    }  # fmt: skip
    (ids, tracks, users, territories, starts, days, tiers, qualities, events) = columns.values()
    for s in batch:
        ids.append(s.id)
        tracks.append(s.track_id)
        users.append(s.user_id)
        territories.append(s.territory)
        starts.append(s.started_at)
        days.append(s.started_at.astimezone(UTC).date())
        tiers.append(s.user_tier)
        qualities.append(s.quality)
        events.append(_start_event_id(s.id))
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(_BATCH_SQL, columns)


def _start_event_id(session_id: str) -> str:
    """The id of a session's start event: uuid5(NAMESPACE_URL, "cadenza:start:<session id>"), as text."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cadenza:start:{session_id}"))


def _write(db: Session, batch: list[NewSession], *, fast: bool = True) -> None:
    """Insert the sessions and their start events, and mark them for the rollups (SQLite; on PostgreSQL a
    retry, the first attempt being `_write_postgresql`). The driver's executemany; the ORM's per-row work
    showed as the stream endpoint's p99. `fast=False` skips rows already stored (a retry)."""
    tiers = _tiers(db, {s.user_id for s in batch if s.user_tier is None and s.user_id is not None})
    sessions = [_session_row(s, tiers) for s in batch]
    events = [_start_row(s) for s in batch]
    marks = [{"session_id": row["id"], "day": row["day"]} for row in sessions]
    conn = db.connection()
    if not fast:
        conn.execute(_insert_new(db, PlaybackSession), sessions)
        conn.execute(_insert_new(db, PlaybackEvent), events)
        conn.execute(insert(PlaybackDirtySession), marks)
        return
    db.execute(insert(PlaybackSession), sessions)
    db.execute(insert(PlaybackEvent), events)
    db.execute(insert(PlaybackDirtySession), marks)


def _insert_new(db: Session, model: type[PlaybackSession] | type[PlaybackEvent]) -> Insert:
    """INSERT that skips rows whose key is already stored."""
    stmt = postgresql.insert(model) if db.get_bind().dialect.name == "postgresql" else sqlite.insert(model)
    return stmt.on_conflict_do_nothing()


def _tiers(db: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = db.execute(select(User.id, User.tier).where(User.id.in_(sorted(user_ids))))
    return {uid: str(tier) for uid, tier in rows}  # Tier is a StrEnum: str() is its value


def _session_row(s: NewSession, tiers: dict[int, str]) -> dict[str, object]:
    tier = s.user_tier if s.user_tier is not None else tiers.get(s.user_id) if s.user_id is not None else None
    return {
        "id": s.id,
        "track_id": s.track_id,
        "user_id": s.user_id,
        "territory": s.territory,
        "started_at": s.started_at,
        "day": s.started_at.astimezone(UTC).date(),
        "user_tier": None if tier is None else str(tier),
        "quality": s.quality,
    }


def _start_row(s: NewSession) -> dict[str, object]:
    return {
        "event_id": _start_event_id(s.id),
        "session_id": s.id,
        "track_id": s.track_id,
        "user_id": None,  # the listener is on the session (one place to erase them)
        "kind": "start",
        "position_ms": 0,
        "seconds_played": 0.0,
        "quality": s.quality,
        "territory": s.territory,
        "occurred_at": s.started_at,
        "received_at": s.started_at,
        "session_day": s.started_at.astimezone(UTC).date(),
        "elapsed_ms": 0,
        "played_ms": 0,
    }
