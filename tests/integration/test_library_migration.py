"""Migration 0006 on a database that holds rows in the seed's playlist tables: they move into the new
ones (ids, order, totals, stars) and come back on a downgrade; on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from cadenza.db import migrate
from cadenza.db.engine import make_engine
from cadenza.library.positions import GAP
from conftest import PG_URL, drop_schema

WHEN = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _stamp(engine: Engine) -> object:
    return WHEN.strftime("%Y-%m-%d %H:%M:%S.%f") if engine.dialect.name == "sqlite" else WHEN


def _rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(text(sql))]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_old_playlists_and_library_entries_are_carried_across_and_back(backend: str, tmp_path: Path) -> None:
    schema = None
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        schema = f"m_{uuid.uuid4().hex[:10]}"
        with make_engine(PG_URL).begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate.upgrade(engine, "0005")
        t = {"t": _stamp(engine)}
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO users (id, email, display_name, password_hash, role, tier, created_at) "
                    "VALUES (1, 'fan@example.org', 'fan', 'x', 'listener', 'free', :t)"
                ),
                t,
            )
            for track_id, seconds in [(1, 200.0), (2, 100.5)]:
                c.execute(
                    text(
                        "INSERT INTO tracks (id, title, status, play_count, created_at, updated_at, "
                        "duration_sec) VALUES (:id, 'Song', 'ready', 0, :t, :t, :d)"
                    ),
                    {"id": track_id, "d": seconds, **t},
                )
            c.execute(
                text("INSERT INTO playlists (id, owner_id, name, created_at) VALUES (7, 1, 'Old mix', :t)"), t
            )
            c.execute(text("INSERT INTO playlists (id, owner_id, name, created_at) VALUES (8, 1, '', :t)"), t)
            for position, track_id in [(5, 2), (-3, 1), (9, 1)]:
                c.execute(
                    text("INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (7, :p, :t)"),
                    {"p": position, "t": track_id},
                )
            c.execute(text("INSERT INTO library_entries (user_id, track_id, added_at) VALUES (1, 2, :t)"), t)

        migrate.upgrade(engine, "0006")
        assert _rows(
            engine, "SELECT id, name, track_count, duration_ms, public, version FROM playlists ORDER BY id"
        ) == [
            (7, "Old mix", 3, 500_500, False, 1),
            (8, "Playlist", 0, 0, False, 1),  # an empty name is not allowed any more
        ]
        assert _rows(engine, "SELECT track_id, position FROM playlist_entries ORDER BY position") == [
            (1, GAP),
            (2, 2 * GAP),
            (1, 3 * GAP),
        ]
        assert _rows(engine, "SELECT user_id, track_id, rating FROM track_marks") == [(1, 2, None)]
        with engine.begin() as c:  # new rows take ids after the carried ones
            c.execute(
                text(
                    "INSERT INTO playlists (owner_id, name, created_at, updated_at) VALUES (1, 'New', :t, :t)"
                ),
                t,
            )
        assert _rows(engine, "SELECT max(id) FROM playlists") == [(9,)]

        migrate.downgrade(engine, "0005")
        assert _rows(engine, "SELECT id, name FROM playlists ORDER BY id") == [
            (7, "Old mix"),
            (8, "Playlist"),
            (9, "New"),
        ]
        assert _rows(engine, "SELECT position, track_id FROM playlist_tracks ORDER BY position") == [
            (0, 1),
            (1, 2),
            (2, 1),
        ]
        assert _rows(engine, "SELECT user_id, track_id FROM library_entries") == [(1, 2)]
        migrate.upgrade(engine)  # and up again, over the rows the downgrade wrote
        assert _rows(engine, "SELECT count(*) FROM playlist_entries") == [(3,)]
    finally:
        engine.dispose()
        if schema:
            drop_schema(schema)
