"""What a database error means for the request that caused it, on both databases.

- "client": the request's data cannot be stored (the caller's fault, a 4xx): a NUL character in text
  (PostgreSQL refuses it), text that cannot be encoded as UTF-8 (a lone surrogate), a number beyond its
  column (PostgreSQL `integer out of range`; SQLite's driver raises a bare OverflowError for ints beyond
  64 bits), a value too long, a broken constraint (unique, foreign key, not null, check).
- "unavailable": the database cannot answer now and the same request may succeed later (a 503 with
  Retry-After): connection refused or lost, the server shutting down or cancelling the statement, too
  many connections, a full disk, a deadlock or serialization failure, SQLite's "database is locked".
- "other": anything else (a bug: a syntax error, a missing table); the app logs it and answers 500.

PostgreSQL errors are read by SQLSTATE class, SQLite errors by their result code (Python 3.11 gives
both on the driver's exception), the rest by type; the cause chain is followed, so an error wrapped by
SQLAlchemy (`.orig`) or raised from another (`__cause__`) is judged by what it wraps."""

from __future__ import annotations

import sqlite3
from typing import Literal, NamedTuple

import psycopg
from sqlalchemy import exc as sa

Kind = Literal["client", "unavailable", "other"]


class Classified(NamedTuple):
    kind: Kind
    reason: str  # for the answer: says what, never echoes the value
    retry_after: int = 0  # seconds, for "unavailable"


_OTHER = Classified("other", "an unexpected database error")
_BUSY = Classified("unavailable", "the database is busy; try again shortly", 1)
_DOWN = Classified("unavailable", "the database is unavailable; try again shortly", 5)
_NUL = Classified("client", "a text value contains a NUL character, which cannot be stored")
_ENCODING = Classified("client", "a text value is not valid UTF-8 (it holds a lone surrogate)")
_RANGE = Classified("client", "a number is outside the range that can be stored")
_TOO_LONG = Classified("client", "a text value is longer than its field allows")
_DATA = Classified("client", "a value is not valid for its field")
_UNIQUE = Classified("client", "the value conflicts with an existing record")
_FOREIGN = Classified("client", "it refers to a record that does not exist")
_MISSING = Classified("client", "a required value is missing")
_CHECK = Classified("client", "a value breaks a rule of the record")
_INTEGRITY = Classified("client", "the change conflicts with the stored records")

# PostgreSQL SQLSTATE: exact codes first, then classes (the first two characters).
_PG_CODES = {
    "22003": _RANGE, "22001": _TOO_LONG, "22021": _ENCODING, "23505": _UNIQUE, "23503": _FOREIGN,
    "23502": _MISSING, "23514": _CHECK, "40001": _BUSY, "40P01": _BUSY, "55P03": _BUSY, "57014": _BUSY,
}  # fmt: skip
_PG_CLASSES = {"22": _DATA, "23": _INTEGRITY, "08": _DOWN, "53": _DOWN, "57": _DOWN, "58": _DOWN, "40": _BUSY}
# SQLite primary result codes (https://sqlite.org/rescode.html).
_SQLITE_CODES = {
    5: _BUSY,  # SQLITE_BUSY: "database is locked"
    6: _BUSY,  # SQLITE_LOCKED
    7: _DOWN,  # SQLITE_NOMEM
    10: _DOWN,  # SQLITE_IOERR
    13: _DOWN,  # SQLITE_FULL
    14: _DOWN,  # SQLITE_CANTOPEN
    15: _DOWN,  # SQLITE_PROTOCOL
    18: _TOO_LONG,  # SQLITE_TOOBIG
    19: _INTEGRITY,  # SQLITE_CONSTRAINT (the message says which; see _sqlite_constraint)
    20: _DATA,  # SQLITE_MISMATCH
    25: _RANGE,  # SQLITE_RANGE
}


def classify(exc: BaseException) -> Classified:
    """Whose fault a database error is ("client", "unavailable" or "other"), with a short reason."""
    for e in _chain(exc):
        found = _one(e)
        if found is not None:
            return found
    return _OTHER


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(out) < 16:
        e = todo.pop(0)
        if e is None or any(e is seen for seen in out):
            continue
        out.append(e)
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return out


def _one(e: BaseException) -> Classified | None:
    if isinstance(e, sa.DBAPIError) and e.connection_invalidated:
        return _DOWN
    if isinstance(e, sa.DisconnectionError | sa.TimeoutError):  # lost connection, pool exhausted
        return _DOWN
    if isinstance(e, psycopg.Error):
        return _postgres(e)
    if isinstance(e, sqlite3.Error):
        return _sqlite(e)
    if isinstance(e, UnicodeEncodeError) and "surrogate" in str(e):
        return _ENCODING
    if isinstance(e, OverflowError) and "convert" in str(e):  # "Python int too large to convert to SQLite"
        return _RANGE
    if isinstance(e, ConnectionError | TimeoutError):
        return _DOWN
    return None


def _postgres(e: psycopg.Error) -> Classified | None:
    state = e.sqlstate or ""
    if "NUL (0x00)" in str(e):  # raised by psycopg itself, before the server sees it: no SQLSTATE
        return _NUL
    found = _PG_CODES.get(state) or _PG_CLASSES.get(state[:2])
    if found is not None:
        return found
    if isinstance(e, psycopg.OperationalError | psycopg.InterfaceError):
        return _DOWN  # no SQLSTATE: refused, reset, closed
    if isinstance(e, psycopg.DataError):
        return _DATA
    if isinstance(e, psycopg.IntegrityError):
        return _INTEGRITY
    return None


def _sqlite(e: sqlite3.Error) -> Classified | None:
    code = getattr(e, "sqlite_errorcode", None)
    found = _SQLITE_CODES.get(code & 0xFF) if isinstance(code, int) else None
    if found is _INTEGRITY:
        return _sqlite_constraint(str(e))
    if found is not None:
        return found
    if isinstance(e, sqlite3.IntegrityError):
        return _sqlite_constraint(str(e))
    if isinstance(e, sqlite3.DataError):
        return _DATA
    if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
        return _BUSY
    return None


def _sqlite_constraint(message: str) -> Classified:
    for words, verdict in (("UNIQUE", _UNIQUE), ("FOREIGN KEY", _FOREIGN), ("NOT NULL", _MISSING),
                           ("CHECK", _CHECK)):  # fmt: skip
        if words in message:
            return verdict
    return _INTEGRITY
