"""Alembic environment: the URL comes from the caller's config or from Cadenza's settings."""

from __future__ import annotations

from alembic import context

from cadenza.db.engine import make_engine
from cadenza.db.models import Base

config = context.config
target_metadata = Base.metadata


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    # The search index (migration 0004) is derived data kept by raw SQL: FTS5 and its shadow tables,
    # tsvector and trigram indexes that the models do not describe.
    return not (type_ == "table" and name is not None and name.startswith("search_"))


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from cadenza.config import get_settings

    return get_settings().db_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_name=_include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        context.configure(
            connection=conn, target_metadata=target_metadata, render_as_batch=True, include_name=_include_name
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
