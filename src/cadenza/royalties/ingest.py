"""Playback event batches: validate each event against the rules and its session, store the valid ones
idempotently (a UNIQUE event id; COPY into a staging table on PostgreSQL), commit, then answer.

A batch is `{"sent_at": <player clock when sent>, "events": [...]}`; each event is judged on its own, so
one bad event never costs the others. Re-posting a batch stores nothing twice: events already stored
are reported as duplicates, which a player treats like accepted."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from cachetools import LRUCache
from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cadenza.catalog.models import Track
from cadenza.errors import InvalidInput
from cadenza.royalties import counting
from cadenza.royalties.counting import CheckedEvent, ParsedEvent, Rejected, SessionFacts
from cadenza.royalties.models import PlaybackDirtySession, PlaybackEvent, PlaybackSession
from cadenza.royalties.rules import Royalties

log = logging.getLogger(__name__)

COLUMNS = (
    "event_id", "session_id", "track_id", "user_id", "kind", "position_ms", "seconds_played", "quality",
    "territory", "occurred_at", "received_at", "session_day", "elapsed_ms", "played_ms", "playback_rate",
)  # fmt: skip

_STAGE = "playback_events_stage"
_STAGE_DDL = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} (
    event_id varchar(36), session_id varchar(36), track_id bigint, user_id bigint, kind varchar(16),
    position_ms integer, seconds_played double precision, quality varchar(32), territory char(2),
    occurred_at timestamptz, received_at timestamptz, session_day date, elapsed_ms integer,
    played_ms integer, playback_rate double precision
) ON COMMIT DELETE ROWS
"""
_COLS = ", ".join(COLUMNS)
# The new events, and a mark for each of their sessions (see mark_dirty), in one statement.
_STAGE_INSERT = (
    f"WITH stored AS (INSERT INTO playback_events ({_COLS}) SELECT {_COLS} FROM {_STAGE} "
    "ON CONFLICT (session_id, event_id) DO NOTHING RETURNING session_id, event_id, session_day), "
    "marked AS (INSERT INTO playback_dirty_sessions (session_id, day) "
    "SELECT DISTINCT session_id, session_day FROM stored) "
    "SELECT session_id, event_id FROM stored"
)


@dataclass
class BatchResult:
    """What became of each event: stored now, stored before (or twice in the batch), or rejected."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


class SessionDirectory:
    """Session facts by id. Sessions never change, so they are cached (least recently used out); one that
    is deleted meanwhile (with its track) fails the insert, and the ingestor forgets it and tries again.
    A miss asks the database, then flushes the stream endpoint's buffered recorder and asks again before
    calling the id unknown."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        flush: Callable[[], object] | None = None,
        maxsize: int = 200_000,
    ) -> None:
        self._sessions = sessions
        self._flush = flush
        self._cache: LRUCache[str, SessionFacts] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()

    def find(self, ids: Iterable[str]) -> dict[str, SessionFacts]:
        found: dict[str, SessionFacts] = {}
        missing: list[str] = []
        with self._lock:  # once per batch, not per event
            for sid in ids:
                facts = self._cache.get(sid)
                if facts is None:
                    missing.append(sid)
                else:
                    found[sid] = facts
        if missing:
            loaded = self._load(missing)
            if len(loaded) < len(missing) and self._flush is not None:
                self._flush()
                loaded.update(self._load([sid for sid in missing if sid not in loaded]))
            with self._lock:
                self._cache.update(loaded)
            found.update(loaded)
        return found

    def forget(self, ids: Iterable[str]) -> None:
        with self._lock:
            for sid in ids:
                self._cache.pop(sid, None)

    def _load(self, ids: Sequence[str]) -> dict[str, SessionFacts]:
        with self._sessions() as s:
            rows = s.execute(
                select(PlaybackSession.id, PlaybackSession.user_id, PlaybackSession.track_id,
                       PlaybackSession.territory, PlaybackSession.started_at, PlaybackSession.day,
                       Track.duration_sec)
                .join(Track, Track.id == PlaybackSession.track_id)
                .where(PlaybackSession.id.in_(ids))
            )  # fmt: skip
            return {
                r.id: SessionFacts(
                    r.id,
                    r.user_id,
                    r.track_id,
                    r.territory,
                    counting.to_ms(r.started_at),
                    r.day,
                    r.duration_sec,
                )
                for r in rows
            }


@dataclass
class Ingestor:
    """Takes event batches for one database (a server holds one for its lifetime)."""

    sessions: sessionmaker[Session]
    rules: Royalties
    directory: SessionDirectory
    retries: int = 3
    clock: Callable[[], float] = time.time

    def ingest(self, body: object, *, user_id: int | None) -> BatchResult:
        """Judge and store a batch. `user_id` is the signed-in listener, who must own every session;
        None for a beacon, where the unguessable session id is the credential."""
        events, sent_at = _unpack(body, self.rules.max_batch)
        received_ms = int(self.clock() * 1000)
        offset = 0 if sent_at is None else received_ms - sent_at
        result = BatchResult()
        parsed: list[tuple[int, ParsedEvent]] = []
        seen: set[tuple[str, str]] = set()
        for i, raw in enumerate(events):
            try:
                p = counting.parse_event(raw)
            except Rejected as exc:
                result.rejected.append({"index": i, "id": _raw_id(raw), "reason": exc.reason})
                continue
            key = (p.session_id, p.event_id)  # an event id is unique within its session
            if key in seen:
                result.duplicates.append(p.event_id)
                continue
            seen.add(key)
            parsed.append((i, p))
        try:
            checked, rejected = self._judge(parsed, user_id=user_id, received_ms=received_ms, offset=offset)
            stored = self._store(checked, counting.from_ms(received_ms))
        except IntegrityError:
            # A cached session was deleted (with its track) since: forget the batch's sessions, judge again.
            self.directory.forget({p.session_id for _, p in parsed})
            checked, rejected = self._judge(parsed, user_id=user_id, received_ms=received_ms, offset=offset)
            stored = self._store(checked, counting.from_ms(received_ms))
        result.rejected.extend(rejected)
        for c in checked:
            new = (c.parsed.session_id, c.parsed.event_id) in stored
            (result.accepted if new else result.duplicates).append(c.parsed.event_id)
        result.rejected.sort(key=lambda r: r["index"])  # type: ignore[arg-type,return-value]
        return result

    def _judge(
        self, parsed: Sequence[tuple[int, ParsedEvent]], *, user_id: int | None, received_ms: int, offset: int
    ) -> tuple[list[CheckedEvent], list[dict[str, object]]]:
        known = self.directory.find({p.session_id for _, p in parsed})
        checked: list[CheckedEvent] = []
        rejected: list[dict[str, object]] = []
        for i, p in parsed:
            s = known.get(p.session_id)
            try:
                if s is None or (user_id is not None and s.user_id != user_id):
                    raise Rejected(f"unknown session {p.session_id}")
                checked.append(
                    counting.check_event(
                        p, s, received_ms=received_ms, clock_offset_ms=offset, rules=self.rules
                    )
                )
            except Rejected as exc:
                rejected.append({"index": i, "id": p.event_id, "reason": exc.reason})
        return checked, rejected

    def _store(self, checked: Sequence[CheckedEvent], received: datetime) -> set[tuple[str, str]]:
        if not checked:
            return set()
        rows = [_row(c, received) for c in checked]
        for attempt in range(self.retries + 1):
            try:
                with self.sessions() as s:
                    info = s.connection().connection.info
                    try:
                        stored = insert_events(s, rows)
                        s.commit()  # durable before the player hears "accepted"
                    except BaseException:
                        info.pop(_STAGE, None)  # a rolled-back transaction takes the staging table with it
                        raise
                return stored
            except DBAPIError as exc:
                # A dropped connection (database restart, failover, a killed backend) is retried on a fresh
                # one: the insert is idempotent, so a commit that did land is only found again.
                if not exc.connection_invalidated or attempt == self.retries:
                    raise
                log.warning("playback batch: database connection lost, retrying (%s)", exc.orig)
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")


def _unpack(body: object, max_batch: int) -> tuple[list[Any], int | None]:
    """The batch's events and its `sent_at`; anything but that shape refuses the whole batch with a
    reason (InvalidInput), since there is no event to answer for one by one."""
    if not isinstance(body, dict):
        raise InvalidInput('send a JSON object {"sent_at": ..., "events": [...]}')
    events = body.get("events")
    if not isinstance(events, list):
        raise InvalidInput('events must be a list of event objects: {"sent_at": ..., "events": [...]}')
    if len(events) > max_batch:
        raise InvalidInput(f"at most {max_batch} events per batch; got {len(events)}")
    sent = body.get("sent_at")
    try:
        sent_at = None if sent is None else counting.parse_timestamp(sent, "sent_at")
    except Rejected as exc:
        raise InvalidInput(exc.reason) from None
    return events, sent_at


def _raw_id(raw: object) -> str | None:
    """The id a rejected event is reported under: only a well-formed one is echoed (canonical), so the
    answer never carries text that cannot be encoded (a lone surrogate) or that the player did not mean."""
    return counting.event_id(raw.get("id")) if isinstance(raw, dict) else None


def _row(c: CheckedEvent, received: datetime) -> tuple[object, ...]:
    p, s = c.parsed, c.session
    return (
        p.event_id, p.session_id, s.track_id, None, p.kind, p.position_ms, p.seconds_played, p.quality,
        s.territory, counting.from_ms(c.occurred_ms), received, s.day, c.elapsed_ms, p.played_ms,
        p.playback_rate,
    )  # fmt: skip


def insert_events(session: Session, rows: Sequence[tuple[object, ...]]) -> set[tuple[str, str]]:
    """Insert event rows (in COLUMNS order), skipping events already stored, and mark the sessions of the
    rows stored now for the rollups' refresh; (session, event) ids of the rows stored now."""
    if not rows:
        return set()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return _copy_events(conn, rows)
    stmt = (
        sqlite_insert(PlaybackEvent)
        .values([dict(zip(COLUMNS, r, strict=True)) for r in rows])
        .on_conflict_do_nothing(index_elements=["session_id", "event_id"])
        .returning(PlaybackEvent.session_id, PlaybackEvent.event_id, PlaybackEvent.session_day)
    )
    stored = session.execute(stmt).all()
    mark_dirty(session, {(sid, day) for sid, _, day in stored})
    return {(sid, eid) for sid, eid, _ in stored}


def _copy_events(conn: Connection, rows: Sequence[tuple[object, ...]]) -> set[tuple[str, str]]:
    fairy = conn.connection  # the pooled DBAPI connection, inside this session's transaction
    if not fairy.info.get(_STAGE):
        conn.exec_driver_sql(_STAGE_DDL)
        fairy.info[_STAGE] = True
    statement = f"COPY {_STAGE} ({_COLS}) FROM STDIN"
    try:
        with fairy.driver_connection.cursor() as cur, cur.copy(statement) as copy:  # type: ignore[union-attr]
            for r in rows:
                copy.write_row(r)
    except psycopg.Error as exc:  # raised past SQLAlchemy: give it SQLAlchemy's meaning (disconnect or not)
        lost = conn.dialect.is_disconnect(exc, fairy.dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            statement, None, exc, psycopg.Error, connection_invalidated=lost, dialect=conn.dialect
        ) from exc
    return {(sid, eid) for sid, eid in conn.exec_driver_sql(_STAGE_INSERT)}


def mark_dirty(session: Session, sessions: Iterable[tuple[str, date]]) -> None:
    """Note that these (session id, day) sessions have events the rollups have not counted yet
    (append-only; see PlaybackDirtySession): the next refresh recounts them."""
    values = [{"session_id": sid, "day": day} for sid, day in sorted(set(sessions))]
    if values:
        session.execute(insert(PlaybackDirtySession), values)
