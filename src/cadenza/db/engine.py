"""Engine and session factory, with the SQLite pragmas that make it safe for concurrent workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a sqlite:// or postgresql+psycopg:// URL."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: pysqlite leaves transactions to us, so `_sqlite_begin` can say how to begin.
        connect_args = {"check_same_thread": False, "timeout": 30, "isolation_level": None}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the web server read while a pipeline worker writes; foreign keys are off by default.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # A transaction that reads and then writes must own the write lock from its start: upgrading a read
    # snapshot to a write after another writer committed fails at once ("database is locked") instead of
    # waiting for the busy timeout. Writing transactions (see `transaction`) therefore BEGIN IMMEDIATE.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def engine_of(sessions: sessionmaker[Session]) -> Engine:
    """The engine a session factory is bound to (for work outside the ORM: COPY, VACUUM, raw SQL)."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the session factory is not bound to an engine")
    return bind


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error (on SQLite it takes the
    write lock at its start)."""
    with factory() as session, session.begin():
        session.connection(execution_options={"sqlite_immediate": True})
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads on a hot path. It ends with COMMIT rather than the ROLLBACK a closed session
    sends: psycopg forgets every prepared statement of a connection when it sees a ROLLBACK, so a
    request-per-session pattern would otherwise never reuse a query plan."""
    with factory() as session, session.begin():
        yield session


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run `fn` once the session's current transaction has committed, never if it rolls back: the way a
    service makes a side effect (dropping a cache other processes refill) follow the change it made."""
    event.listen(session, "after_commit", lambda _s: fn(), once=True)
