"""Migration 0007 (artwork) on a database that already holds a catalog: data and the search triggers of
0004 survive the upgrade and the downgrade, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from cadenza.db import migrate


def _triggers(c: Connection) -> set[str]:
    if c.dialect.name == "sqlite":
        return set(
            c.execute(text("SELECT name || ':' || sql FROM sqlite_master WHERE type = 'trigger'")).scalars()
        )
    rows = c.execute(
        text(
            "SELECT t.tgname || ':' || pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal "
            "AND r.relnamespace = to_regnamespace(current_schema())"
        )
    )
    return set(rows.scalars())


def _columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_upgrade_and_downgrade_keep_the_catalog_and_its_triggers(old_engine: Engine) -> None:
    migrate.upgrade(old_engine, "0005")
    with old_engine.begin() as c:
        c.execute(text("INSERT INTO artists (id, name, created_at) VALUES (1, 'Ana', CURRENT_TIMESTAMP)"))
        c.execute(
            text(
                "INSERT INTO releases (id, title, artist_id, created_at) "
                "VALUES (1, 'First Light', 1, CURRENT_TIMESTAMP)"
            )
        )
        c.execute(
            text(
                "INSERT INTO tracks (id, title, status, release_id, play_count, created_at, updated_at) "
                "VALUES (1, 'Song', 'ready', 1, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        before = _triggers(c)
    assert before, "0004 made triggers"
    assert "artwork_key" in _columns(old_engine, "releases")

    migrate.upgrade(old_engine, "0007")
    assert {"artwork_id"} <= _columns(old_engine, "releases") - {"artwork_key"}
    assert "artwork_key" not in _columns(old_engine, "releases")
    assert {"artwork_id", "artwork_problem"} <= _columns(old_engine, "tracks")
    with old_engine.begin() as c:
        assert _triggers(c) == before
        assert c.execute(text("SELECT title, release_id, artwork_id FROM tracks")).one() == ("Song", 1, None)
        c.execute(
            text(
                "INSERT INTO artworks (id, sha256, width, height, mime, size_bytes, variants, created_at) "
                "VALUES (7, :h, 10, 10, 'image/png', 100, '[]', CURRENT_TIMESTAMP)"
            ),
            {"h": "a" * 64},
        )
        c.execute(text("UPDATE releases SET artwork_id = 7"))
        c.execute(text("UPDATE tracks SET artwork_id = 7, artwork_problem = NULL"))
    # the links are foreign keys: an unknown artwork cannot be named, a used one cannot be deleted
    for statement in ("UPDATE tracks SET artwork_id = 999", "DELETE FROM artworks"):
        with pytest.raises(IntegrityError), old_engine.begin() as c:
            c.execute(text(statement))

    migrate.downgrade(old_engine, "0005")
    assert "artwork_key" in _columns(old_engine, "releases")
    assert "artwork_id" not in _columns(old_engine, "releases")
    assert not {"artwork_id", "artwork_problem"} & _columns(old_engine, "tracks")
    assert "artworks" not in inspect(old_engine).get_table_names()
    with old_engine.begin() as c:
        assert _triggers(c) == before
        assert c.execute(text("SELECT title, release_id FROM tracks")).one() == ("Song", 1)
        assert c.execute(text("SELECT title FROM releases")).scalar_one() == "First Light"
    migrate.upgrade(old_engine, "head")  # and up again
