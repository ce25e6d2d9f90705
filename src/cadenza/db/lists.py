"""Lists of ids in SQL, bound as one value on every backend.

A plain `IN (...)` binds one parameter per id, so the SQL text changes with the list's length: SQLAlchemy
expands the statement at every call, and psycopg parses a statement of more than 50 parameters anew at
every execution (its query cache stops there); for the 100 ids of a playlist page that cost 0.5-1 ms per
query here. One bound value keeps one statement text, cached and (on PostgreSQL) prepared: `= ANY(:ids)`
with an array on PostgreSQL, a JSON array read by `json_each` on SQLite.

Hot paths build their statements once per dialect with `in_list` and bind `list_value(...)` at each
call: building and keying a statement cost about as much as running it (1 ms of CPU per statement on
this shared machine); `one_of` builds the condition in place, for everything else."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session


def in_list(dialect: str, column: InstrumentedAttribute[int], name: str = "ids") -> ColumnElement[bool]:
    """`column IN :name` for a statement built once for `dialect` ("postgresql" or "sqlite")."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(BigInteger)))
    listed = func.json_each(bindparam(name)).table_valued("value")
    return column.in_(select(listed.c.value))


def list_value(dialect: str, ids: Iterable[int]) -> object:
    """The value to bind for an `in_list` parameter."""
    values = [int(i) for i in ids]
    return values if dialect == "postgresql" else json.dumps(values)


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def one_of(session: Session, column: InstrumentedAttribute[int], ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN ids` with the whole list as one bound value, built in place."""
    dialect = dialect_of(session)
    value = list_value(dialect, ids)
    if dialect == "postgresql":
        return column == any_(literal(value, ARRAY(BigInteger)))
    return column.in_(select(func.json_each(literal(value)).table_valued("value").c.value))
