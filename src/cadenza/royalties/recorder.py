"""Playback sessions opened by the stream endpoint, written in batches off the request path.

Issuing a stream URL must not wait for a database commit; sessions (each with its `start` event) are
queued and a background thread writes them every `interval` seconds in one transaction. `flush()` writes
at once (the events endpoint calls it before it decides a session id is unknown; shutdown calls it)."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from cadenza import ids
from cadenza.royalties.models import PlaybackEvent, PlaybackSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewSession:
    id: str
    track_id: int
    user_id: int | None
    territory: str | None
    quality: str | None
    started_at: datetime


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

    def record(self, s: NewSession) -> None:
        with self._lock:
            self._pending.append(s)
            full = len(self._pending) >= self._max_pending
        if self._thread is None:
            self._start()
        if full:
            self.flush()

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
                with self._sessions() as db, db.begin():
                    _write(db, batch)
            except BaseException:
                with self._lock:
                    self._pending[:0] = batch
                raise
            return len(batch)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.flush()


def new_session(
    *, track_id: int, user_id: int | None, territory: str | None, quality: str | None, at: datetime
) -> NewSession:
    return NewSession(str(ids.uuid4()), track_id, user_id, territory, quality, at)


_SESSION_COLS = ("id", "track_id", "user_id", "territory", "started_at")
_EVENT_COLS = (
    "event_id", "session_id", "track_id", "user_id", "kind", "position_ms", "seconds_played", "quality",
    "territory", "occurred_at", "received_at",
)  # fmt: skip


def _write(db: Session, batch: list[NewSession]) -> None:
    """Insert the sessions and their start events. This runs on a background thread of the web server and
    holds the GIL while it builds rows, so it is kept lean: COPY on PostgreSQL (one buffer per table),
    the driver's executemany elsewhere; the ORM's per-row work showed as the stream endpoint's p99."""
    sessions = [_session_row(s) for s in batch]
    events = [_start_row(s) for s in batch]
    conn = db.connection()
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            for table, cols, rows in (
                ("playback_sessions", _SESSION_COLS, sessions),
                ("playback_events", _EVENT_COLS, events),
            ):
                payload = "".join("\t".join(_copy_text(row[c]) for c in cols) + "\n" for row in rows)
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    copy.write(payload)
        return
    db.execute(insert(PlaybackSession), sessions)
    db.execute(insert(PlaybackEvent), events)


def _copy_text(value: object) -> str:
    """A value in COPY's text format (our values hold no tabs, newlines or backslashes)."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _session_row(s: NewSession) -> dict[str, object]:
    return {
        "id": s.id,
        "track_id": s.track_id,
        "user_id": s.user_id,
        "territory": s.territory,
        "started_at": s.started_at,
    }


def _start_row(s: NewSession) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cadenza:start:{s.id}")),
        "session_id": s.id,
        "track_id": s.track_id,
        "user_id": s.user_id,
        "kind": "start",
        "position_ms": 0,
        "seconds_played": 0.0,
        "quality": s.quality,
        "territory": s.territory,
        "occurred_at": s.started_at,
        "received_at": s.started_at,
    }
