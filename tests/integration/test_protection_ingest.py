"""A track protected while it is processing is encrypted at its transcode stage (no repackage), lossless
stream included, on SQLite and PostgreSQL: it becomes ready with only encrypted segments and no
progressive file. A length of whole segments makes ffmpeg 5.1 leave a bare `styp` after the last FLAC
fragment, which failed this stage until the packager passed it through."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import transaction
from cadenza.delivery.service import load_track_media
from cadenza.ingest import pipeline
from cadenza.ingest.service import accept_upload
from cadenza.protection import service as protection
from conftest import make_settings


class _Later:
    def submit(self, track_id: int, *, start: str = "validate") -> None:
        return None


def test_a_track_protected_while_processing_is_published_encrypted_only(
    db: tuple[Engine, str], tmp_path: Path
) -> None:
    c = build_collaborators(make_settings(tmp_path / "data", db[1]), engine=db[0], run_migrations=False)
    src = make_audio(tmp_path / "s.flac", duration=12, seed=151)  # lossless; a whole number of segments
    track = accept_upload(c, _Later(), path=src, filename="s.flac")
    with transaction(c.sessions) as s:
        protection.set_policy(s, track_id=track.id, protected=True, by_user=None)
    pipeline.run_all(c, track.id)
    with c.sessions() as s:
        done = s.get_one(Track, track.id)
        assert done.status == TrackStatus.ready, done.failure_reason
        media = load_track_media(s, track_ids=[track.id])[track.id]
    assert media.protected and media.protection_set
    assert "mp3_320" not in media.variant_keys and "flac" not in media.variant_keys
    version = c.settings.storage.local_root / done.media_prefix
    segments = list(version.rglob("*.m4s"))
    assert {p.parent.name for p in segments} >= {"aac_128", "flac"}
    for seg in segments:
        assert b"senc" in seg.read_bytes(), seg
    assert not (version / "download").exists()


@pytest.fixture(autouse=True)
def _fresh(engine: Engine) -> None:
    """An empty database per test (the module's database is shared by backend)."""
