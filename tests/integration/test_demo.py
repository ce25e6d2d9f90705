"""The demo catalog `make run` serves: generated tunes with embedded covers become ready tracks whose
releases show that artwork (read by the ingest from the files' tags, as for any upload)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import Release, Track, TrackStatus
from cadenza.demo import DEMO_TRACKS, write_demo_tracks
from cadenza.ingest.service import accept_upload
from conftest import InlineRunner, make_settings


def test_demo_tracks_are_ready_with_their_covers(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path
) -> None:
    c = build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)
    paths = write_demo_tracks(tmp_path / "demo", duration=3)
    assert write_demo_tracks(tmp_path / "demo", duration=3) == paths  # made once
    for path in paths:
        accept_upload(c, InlineRunner(c), path=path, filename=path.name)
    with c.sessions() as s:
        tracks = list(s.scalars(select(Track).order_by(Track.id)))
        assert [t.title for t in tracks] == [t[0] for t in DEMO_TRACKS]
        assert all(t.status == TrackStatus.ready for t in tracks), [t.failure_reason for t in tracks]
        assert all(t.artwork_id is not None for t in tracks)
        releases = list(s.scalars(select(Release)))
        assert releases and all(r.artwork_id is not None for r in releases)
