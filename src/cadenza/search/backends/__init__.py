"""Index backends, one interface: PostgreSQL (tsvector + GIN, impact-ordered postings) and SQLite (FTS5)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cadenza.search.backends.base import Filters, IndexBackend, Match

__all__ = ["Filters", "IndexBackend", "Match", "backend_for"]


def backend_for(session: Session) -> IndexBackend:
    """The backend for the database the session is bound to."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from cadenza.search.backends.postgres import PostgresIndex

        return PostgresIndex()
    if name == "sqlite":
        from cadenza.search.backends.sqlite import SqliteIndex

        return SqliteIndex()
    raise NotImplementedError(f"no search backend for {name}")
