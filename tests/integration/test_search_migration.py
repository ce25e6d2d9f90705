"""Migration 0005 on an index that already holds documents: exact-match keys become postings (PostgreSQL),
and a downgrade takes them out again; exact matches work before, after and across."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from cadenza.catalog.models import Artist, Track, TrackArtist, TrackStatus
from cadenza.db import migrate
from cadenza.db.engine import make_session_factory, transaction
from cadenza.search import service
from conftest import drop_schema, make_test_engine


def test_exact_keys_are_backfilled_as_postings(tmp_path: Path) -> None:
    engine, _, schema = make_test_engine("postgres", tmp_path)
    assert schema
    try:
        sessions = make_session_factory(engine)
        with transaction(sessions) as s:
            for i, plays in enumerate((3, 30)):
                t = Track(title="Heimat", status=TrackStatus.ready, play_count=plays, source_checksum=str(i))
                a = Artist(name=f"Band {i}")
                s.add_all([t, a])
                s.flush()
                s.add(TrackArtist(track_id=t.id, artist_id=a.id, position=0))
                s.flush()
                service.index_track(s, track_id=t.id)

        def exact() -> list[tuple[int, str]]:
            with sessions() as s:
                return [(h.play_count, h.match) for h in service.search(s, q="heimat").hits]

        def key_postings() -> int:
            with engine.connect() as c:
                return int(
                    c.execute(
                        text("SELECT count(*) FROM search_postings WHERE term = '=0heimat'")
                    ).scalar_one()
                )

        assert exact() == [(30, "exact"), (3, "exact")] and key_postings() == 2
        migrate.downgrade(engine, "0004")
        assert key_postings() == 0
        migrate.upgrade(engine)
        assert key_postings() == 2
        assert exact() == [(30, "exact"), (3, "exact")]
    finally:
        engine.dispose()
        drop_schema(schema)
