"""`cadenza import`: folders walked recursively, a summary of ready / failed / duplicates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from audio import make_audio, transcode_file


def test_import_folder_summarises_outcomes(tmp_path: Path) -> None:
    music = tmp_path / "music"
    (music / "album").mkdir(parents=True)
    good = make_audio(music / "album" / "01-good.flac", duration=6, seed=61)
    transcode_file(good, music / "album" / "02-copy.mp3")
    (music / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    (music / "notes.txt").write_text("not picked up: not an audio suffix")
    env = {**os.environ, "CADENZA_DATA_DIR": str(tmp_path / "data"), "CADENZA_ENV": "test"}
    env.pop("CADENZA_BROKER_URL", None)
    env.pop("CADENZA_DATABASE_URL", None)
    cadenza = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"
    # a wide terminal keeps each table row on one line
    proc = subprocess.run(
        [cadenza, "import", str(music)],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    out = proc.stdout
    assert proc.returncode == 2, out + proc.stderr  # one file failed
    assert "ready: 2  failed: 1  duplicates: 1" in out, out
    assert "duplicate of track 1" in out
    assert "broken.wav" in out and "validate:" in out
    assert "notes.txt" not in out
    missing = subprocess.run(
        [cadenza, "import", str(tmp_path / "nowhere")],
        env={**env, "COLUMNS": "300"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "no such file" in missing.stdout


def test_search_reindex_and_query_from_the_shell(tmp_path: Path) -> None:
    """`cadenza search reindex` rebuilds, then vacuums and analyzes outside its transaction (PostgreSQL);
    `cadenza search query` finds the track by a misspelt word."""
    from cadenza.catalog.models import Artist, Track, TrackArtist, TrackStatus
    from cadenza.db.engine import make_session_factory, transaction
    from conftest import drop_schema, make_test_engine

    engine, url, schema = make_test_engine("postgres", tmp_path)
    assert schema
    try:
        with transaction(make_session_factory(engine)) as s:
            t = Track(title="Nocturne in E-flat", status=TrackStatus.ready, source_checksum="x")
            a = Artist(name="Frédéric Chopin")
            s.add_all([t, a])
            s.flush()
            s.add(TrackArtist(track_id=t.id, artist_id=a.id, position=0))
        env = {
            **os.environ,
            "CADENZA_DATA_DIR": str(tmp_path / "data"),
            "CADENZA_DATABASE_URL": url,
            "COLUMNS": "200",
        }
        env.pop("CADENZA_BROKER_URL", None)
        cadenza = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"
        run = subprocess.run(
            [cadenza, "search", "reindex"], env=env, capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "indexed 2 documents" in run.stdout  # the track and its artist (no release)
        found = subprocess.run(
            [cadenza, "search", "query", "noctrune shopan"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert found.returncode == 0, found.stdout + found.stderr
        assert "Nocturne in E-flat" in found.stdout and "Frédéric Chopin" in found.stdout
    finally:
        engine.dispose()
        drop_schema(schema)
