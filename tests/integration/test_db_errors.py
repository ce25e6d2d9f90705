"""Database errors classified on both real databases: each is provoked for real (no stand-ins), then
`classify` must say whose fault it is: the request's ("client", a 4xx), the database's for now
("unavailable", a 503 with Retry-After), or a bug ("other")."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_engine, make_session_factory
from cadenza.db.errors import Classified, classify
from cadenza.royalties.models import PlaybackSession
from conftest import PG_URL


def _fails(engine: Engine, work: Callable[[Session], object]) -> BaseException | None:
    """Run `work` in a session and flush; the exception it raised, or None if the database took it."""
    with make_session_factory(engine)() as s:
        try:
            work(s)
            s.flush()
        except Exception as exc:
            s.rollback()
            return exc
        s.rollback()
    return None


def _track(**over: object) -> Track:
    values: dict[str, object] = {"title": "Song", "status": TrackStatus.ready}
    values.update(over)
    return Track(**values)


def _verdict(exc: BaseException | None) -> Classified:
    assert exc is not None, "the database accepted it"
    found = classify(exc)
    found.reason.encode("utf-8")
    return found


def test_nul_in_text_is_the_clients_fault_on_postgresql(engine: Engine) -> None:
    exc = _fails(engine, lambda s: s.add(_track(title="a\x00b")))
    if engine.dialect.name == "sqlite":
        assert exc is None  # SQLite stores it: the edge's text rule is what keeps it out
        return
    assert _verdict(exc)[:2] == ("client", "a text value contains a NUL character, which cannot be stored")


def test_a_lone_surrogate_is_the_clients_fault(engine: Engine) -> None:
    verdict = _verdict(_fails(engine, lambda s: s.add(_track(title="a\ud800b"))))
    assert verdict.kind == "client" and "UTF-8" in verdict.reason


def test_numbers_beyond_their_column_are_the_clients_fault(engine: Engine) -> None:
    # SQLite's driver raises a bare OverflowError ("Python int too large to convert to SQLite INTEGER").
    beyond_64_bits = _verdict(_fails(engine, lambda s: s.add(_track(play_count=2**70))))
    assert beyond_64_bits.kind == "client" and "number" in beyond_64_bits.reason
    beyond_32_bits = _fails(engine, lambda s: s.add(_track(track_number=2**40)))
    if engine.dialect.name == "postgresql":
        assert _verdict(beyond_32_bits).kind == "client"  # integer out of range
    else:
        assert beyond_32_bits is None  # SQLite's INTEGER holds 64 bits


def test_broken_constraints_are_the_clients_fault(engine: Engine) -> None:
    with make_session_factory(engine)() as s:
        s.add(track := _track())
        s.flush()
        track_id = track.id
        s.add(PlaybackSession(id="s-1", track_id=track_id, started_at=datetime.now(UTC), day=date.today()))
        s.commit()

    def session(sid: str, track: int) -> Callable[[Session], object]:
        return lambda s: s.add(
            PlaybackSession(id=sid, track_id=track, started_at=datetime.now(UTC), day=date.today())
        )

    cases = {
        "the value conflicts with an existing record": session("s-1", track_id),
        "it refers to a record that does not exist": session(str(uuid.uuid4()), track_id + 1000),
        "a required value is missing": lambda s: s.add(_track(title=None)),
        "a value breaks a rule of the record": lambda s: s.add(_track(isrc="SHORT")),
    }
    for reason, work in cases.items():
        assert _verdict(_fails(engine, work)) == ("client", reason, 0), reason
    too_long = _fails(engine, lambda s: s.add(_track(title="x" * 501)))
    if engine.dialect.name == "postgresql":
        assert _verdict(too_long)[:2] == ("client", "a text value is longer than its field allows")


def test_a_bug_is_neither(engine: Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(Exception) as syntax:
            conn.execute(text("SELEC 1"))
        conn.rollback()
        with pytest.raises(Exception) as table:
            conn.execute(text("SELECT * FROM no_such_table"))
    assert classify(syntax.value).kind == "other" and classify(table.value).kind == "other"
    assert classify(ValueError("not a database error")).kind == "other"
    assert classify(OverflowError("math range error")).kind == "other"


def test_a_server_that_does_not_answer_is_unavailable() -> None:
    closed = make_engine(PG_URL.replace("127.0.0.1:5432", "127.0.0.1:1"), pool_pre_ping=False)
    with pytest.raises(Exception) as refused:
        closed.connect()
    closed.dispose()
    verdict = classify(refused.value)
    assert verdict.kind == "unavailable" and verdict.retry_after > 0


def test_a_connection_the_server_dropped_is_unavailable() -> None:
    pg = make_engine(PG_URL, pool_pre_ping=False)
    try:
        with pg.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with pg.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(Exception) as dropped:
                conn.execute(text("SELECT 1"))
        assert classify(dropped.value).kind == "unavailable"
        with pg.connect() as conn:
            conn.execute(text("SET statement_timeout = 10"))
            with pytest.raises(Exception) as cancelled:
                conn.execute(text("SELECT pg_sleep(1)"))
        assert classify(cancelled.value)[::2] == ("unavailable", 1)
    finally:
        pg.dispose()


def test_a_locked_sqlite_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (i INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    waiter = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    try:
        with waiter.connect() as conn, pytest.raises(Exception) as locked:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        verdict = classify(locked.value)
        assert verdict.kind == "unavailable" and "busy" in verdict.reason
    finally:
        holder.rollback()
        holder.close()
        waiter.dispose()
    unopenable = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    with pytest.raises(Exception) as cannot_open:
        unopenable.connect()
    assert classify(cannot_open.value).kind == "unavailable"
