"""`alembic upgrade head` from the command line works on both databases and matches the models."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from cadenza.db.base import Base
from cadenza.db.engine import make_engine
from conftest import PG_URL, drop_schema

ROOT = Path(__file__).resolve().parents[2]


def _alembic(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CADENZA_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_alembic_cli_upgrade_and_check(backend: str, tmp_path: Path) -> None:
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
        engine = make_engine(url)
    else:
        schema = f"m_{uuid.uuid4().hex[:10]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        up = _alembic("upgrade", "head", url=url)
        assert up.returncode == 0, up.stderr
        check = _alembic("check", url=url)
        assert check.returncode == 0, check.stdout + check.stderr
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        down = _alembic("downgrade", "base", url=url)
        assert down.returncode == 0, down.stderr
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
        if schema:
            drop_schema(schema)
