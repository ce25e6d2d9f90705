"""Shared fixtures: databases on both backends (SQLite file, PostgreSQL schema), wired collaborators."""

from __future__ import annotations

import os
import pathlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from cadenza.config import Settings
from cadenza.db import migrate
from cadenza.db.base import Base
from cadenza.db.engine import make_engine

PG_URL = os.environ.get("CADENZA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgres"]


def make_test_engine(backend: str, tmp: Path) -> tuple[Engine, str, str | None]:
    """A migrated, empty database: a SQLite file or a fresh PostgreSQL schema (returned for dropping)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'cadenza.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        return engine, url, None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    # Only the test's schema: with `public` on the path too, Alembic would find and move a
    # `public.alembic_version` left by a server run against the same database. Search code qualifies
    # the pg_trgm names it uses with the extension's schema instead.
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    migrate.upgrade(engine)
    return engine, f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, str]]:
    """(engine, url) of a migrated database, once per module and backend."""
    engine, url, schema = make_test_engine(request.param, tmp_path_factory.mktemp(request.param))
    yield engine, url
    engine.dispose()
    if schema:
        drop_schema(schema)


@pytest.fixture(params=BACKENDS)
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database, not migrated (for tests of a migration on data written before it)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"m_{uuid.uuid4().hex[:10]}"
    with make_engine(PG_URL).begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    drop_schema(schema)


@pytest.fixture
def engine(db: tuple[Engine, str]) -> Iterator[Engine]:
    """The module's database, emptied before each test."""
    eng = db[0]
    with eng.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    yield eng


def make_settings(tmp: Path, url: str, **overrides: object) -> Settings:
    return Settings(data_dir=tmp, database_url=url, env="test", **overrides)  # type: ignore[arg-type]


def create_user(sessions, *, email: str, role: str = "listener", tier: str = "free") -> str:  # type: ignore[no-untyped-def]
    """A user with a live bearer token (returned), made straight through the accounts service."""
    from datetime import timedelta

    from cadenza.accounts import service
    from cadenza.accounts.models import Role, Tier
    from cadenza.config import Accounts
    from cadenza.db.engine import transaction

    with transaction(sessions) as s:
        user = service.register(
            s,
            email=email,
            password="correct horse battery",
            display_name=None,
            cfg=Accounts(),
            role=Role(role),
            tier=Tier(tier),
        )
        return service.issue_token(s, user=user, ttl=timedelta(hours=1)).token


class InlineRunner:
    """Runs the whole pipeline on submit, in the caller's thread: a test sees the final state at once."""

    def __init__(self, c) -> None:  # type: ignore[no-untyped-def]
        self.c = c

    def submit(self, track_id: int, *, start: str = "validate", lane: str = "interactive") -> None:
        from cadenza.ingest import pipeline

        pipeline.run_all(self.c, track_id, start=start)

    def resume_interrupted(self) -> int:
        return 0

    def shutdown(self, *, wait: bool = True) -> None:
        return None


class IdleRunner(InlineRunner):
    """Accepts tracks and runs nothing (as if the process died right after the upload)."""

    def __init__(self) -> None:
        super().__init__(None)

    def submit(self, track_id: int, *, start: str = "validate", lane: str = "interactive") -> None:
        return None
