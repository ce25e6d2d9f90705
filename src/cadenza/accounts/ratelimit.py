"""Fixed-window rate limiting kept in the database, so every server process sees the same counts."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.orm import Session

# The same statement works on SQLite (3.24+) and PostgreSQL.
_HIT = text(
    "INSERT INTO rate_counters (key, window_start, count) VALUES (:key, :window, 1) "
    "ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1 "
    "RETURNING count"
)


def hit(session: Session, *, key: str, window_sec: int, now: float | None = None) -> int:
    """Count one attempt for `key` in the current window; return the attempts so far in that window."""
    window = int((time.time() if now is None else now) // window_sec) * window_sec
    count = session.execute(_HIT, {"key": key[:400], "window": window}).scalar_one()
    return int(count)


def current(session: Session, *, key: str, window_sec: int, now: float | None = None) -> int:
    window = int((time.time() if now is None else now) // window_sec) * window_sec
    value = session.execute(
        text("SELECT count FROM rate_counters WHERE key = :key AND window_start = :window"),
        {"key": key[:400], "window": window},
    ).scalar()
    return int(value or 0)


def prune(session: Session, *, older_than: float) -> None:
    session.execute(text("DELETE FROM rate_counters WHERE window_start < :t"), {"t": int(older_than)})
