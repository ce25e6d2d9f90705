"""Reprocessing the catalog on both databases: only missing analyses run, from the stored upload (or the
published FLAC), with the same figures as a fresh ingest; complete tracks are skipped (resumable); the
`cadenza reprocess` command shows a summary."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mutagen.flac import FLAC
from sqlalchemy import Engine

from audio import make_audio
from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import LyricLine, Release, Track
from cadenza.catalog.service import TrackMetadata
from cadenza.db.engine import transaction
from cadenza.ingest import pipeline
from cadenza.ingest import reprocess as rp
from cadenza.ingest.service import accept_upload
from conftest import InlineRunner, make_settings


@pytest.fixture
def c(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> pipeline.Collaborators:
    return build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)


def _forget(c: pipeline.Collaborators, track_id: int) -> dict[str, object]:
    """Make the track look as if it was ingested before loudness and lyrics existed; return what it had."""
    with transaction(c.sessions) as s:
        t = s.get(Track, track_id)
        assert t is not None
        had = {
            "lufs": t.loudness_lufs,
            "lra": t.loudness_range_lu,
            "tp": t.true_peak_dbtp,
            "lyrics": t.lyrics_source,
        }
        t.loudness_lufs = t.loudness_range_lu = t.true_peak_dbtp = t.loudness_blocks = None
        t.lyrics_source = None
        s.query(LyricLine).filter(LyricLine.track_id == track_id).delete()
        if t.release_id:
            r = s.get(Release, t.release_id)
            r.loudness_lufs = r.true_peak_dbtp = None  # type: ignore[union-attr]
    return had


def test_only_missing_analyses_run_and_give_the_ingest_figures(
    c: pipeline.Collaborators, tmp_path: Path
) -> None:
    source = make_audio(tmp_path / "song.flac", duration=6, seed=9)
    tags = FLAC(source)
    tags["LYRICS"] = "[00:01.00]One\n[00:02.00]Two\n"
    tags.save()
    tid = accept_upload(
        c, InlineRunner(c), path=source, filename=source.name, overrides=TrackMetadata(release_title="EP")
    ).id
    had = _forget(c, tid)
    assert rp.candidates(c, only=("loudness", "lyrics")) == [tid]
    outcome = rp.reprocess_track(c, track_id=tid, only=("loudness", "lyrics"))
    assert outcome.error is None and outcome.done == ["loudness", "lyrics"]
    with c.sessions() as s:
        t = s.get(Track, tid)
        assert t is not None
        assert (t.loudness_lufs, t.loudness_range_lu, t.true_peak_dbtp) == (
            had["lufs"],
            had["lra"],
            had["tp"],
        )
        assert t.lyrics_source == "embedded"
        assert [line.text for line in s.query(LyricLine).filter(LyricLine.track_id == tid)] == ["One", "Two"]
        release = s.get(Release, t.release_id)
        assert release is not None and release.loudness_lufs == pytest.approx(t.loudness_lufs, abs=0.01)
    # run again: nothing is missing, nothing is done
    assert rp.candidates(c, only=("loudness", "lyrics")) == []
    assert rp.reprocess_track(c, track_id=tid, only=("loudness",)).skipped


def test_without_the_upload_loudness_comes_from_the_published_flac(
    c: pipeline.Collaborators, tmp_path: Path
) -> None:
    source = make_audio(tmp_path / "song.flac", duration=6, seed=10)
    tid = accept_upload(c, InlineRunner(c), path=source, filename=source.name).id
    had = _forget(c, tid)
    with transaction(c.sessions) as s:
        t = s.get(Track, tid)
        assert t is not None and t.source_key
        c.store.delete(t.source_key)
        t.source_key = None
    outcome = rp.reprocess_track(c, track_id=tid, only=rp.ANALYSES)
    assert outcome.error is None and outcome.done == ["loudness", "lyrics", "artwork"]
    with c.sessions() as s:
        t = s.get(Track, tid)
        assert t is not None
        assert t.loudness_lufs == pytest.approx(had["lufs"], abs=0.01)  # the FLAC is bit-exact
        assert t.lyrics_source == "none"  # published files carry no tags


def test_parse_only_names_the_unknown_analysis() -> None:
    assert rp.parse_only("lyrics, loudness,lyrics") == ("lyrics", "loudness")
    with pytest.raises(ValueError, match="tempo"):
        rp.parse_only("loudness,tempo")


def test_the_command_reprocesses_and_resumes(tmp_path: Path) -> None:
    music = make_audio(tmp_path / "a.flac", duration=5, seed=12)
    env = {**os.environ, "CADENZA_DATA_DIR": str(tmp_path / "data"), "CADENZA_ENV": "test", "COLUMNS": "200"}
    env.pop("CADENZA_BROKER_URL", None)
    env.pop("CADENZA_DATABASE_URL", None)
    cadenza = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"
    run = lambda *args: subprocess.run(  # noqa: E731
        [cadenza, *args], env=env, capture_output=True, text=True, check=False, timeout=300
    )
    (tmp_path / "a.lrc").write_text("[la:en]\n[00:01.00]beside the file\n")
    assert run("import", str(music)).returncode == 0
    db = sqlite3.connect(tmp_path / "data" / "cadenza.db")
    # the .lrc beside the audio file became the track's lyrics
    assert db.execute("SELECT start_ms, text, language FROM lyric_lines").fetchall() == [
        (1000, "beside the file", "en")
    ]
    assert db.execute("SELECT lyrics_source FROM tracks").fetchone() == ("lrc",)
    with db:
        db.execute("UPDATE tracks SET loudness_blocks = NULL, loudness_lufs = NULL")
    first = run("reprocess", "--only", "loudness", "--all")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "tracks: 1  failed: 0" in first.stdout and "loudness" in first.stdout
    assert db.execute("SELECT loudness_lufs IS NOT NULL FROM tracks").fetchone() == (1,)
    again = run("reprocess", "--only", "loudness", "1")
    assert "tracks: 0  failed: 0  already complete: 1" in again.stdout, again.stdout
    bad = run("reprocess", "--only", "tempo", "--all")
    assert bad.returncode == 2 and "tempo" in bad.stdout
