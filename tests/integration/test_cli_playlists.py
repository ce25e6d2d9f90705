"""`cadenza playlist import/export`: an M3U8 file becomes a playlist matched to the catalog (ISRC, then
title and artist), with a summary of what did not match; export writes it back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from cadenza.bootstrap import build_collaborators
from cadenza.catalog import service as catalog
from cadenza.catalog.models import TrackStatus
from cadenza.catalog.service import TrackMetadata
from cadenza.db.engine import transaction
from cadenza.search import service as search
from conftest import create_user, make_settings


def _cadenza(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CADENZA_DATA_DIR": str(tmp / "data"), "CADENZA_ENV": "test", "COLUMNS": "200"}
    env.pop("CADENZA_BROKER_URL", None)
    env.pop("CADENZA_DATABASE_URL", None)
    cadenza = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"
    return subprocess.run([cadenza, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_import_matches_by_isrc_and_by_name_and_export_writes_it_back(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'cadenza.db'}")
    c = build_collaborators(settings)
    ids = {}
    with transaction(c.sessions) as s:
        for title, artist, isrc in [("Alpha Song", "Ana", "USRC17607839"), ("Bravo Tune", "Bo", None)]:
            meta = TrackMetadata(title=title, artists=[artist], isrc=isrc)
            t = catalog.create_track(
                s, meta=meta, source_filename=None, source_checksum="0" * 64, source_size=1
            )
            t.status = TrackStatus.ready
            s.flush()
            search.index_track(s, track_id=t.id)
            ids[title] = t.id
    create_user(c.sessions, email="fan@example.org")
    c.sessions.kw["bind"].dispose()
    m3u = tmp_path / "road trip.m3u8"
    m3u.write_text(
        "#EXTM3U\n#PLAYLIST:Road Trip\n"
        "#EXTINF:200,Someone - Renamed In The File\n#EXT-X-ISRC:USRC17607839\n/music/a.flac\n"
        "#EXTINF:180,Bo - Bravo Tune\n/music/b.mp3\n"
        "#EXTINF:100,Nobody - Not In This Catalog\n/music/c.mp3\n",
        encoding="utf-8",
    )
    done = _cadenza(tmp_path, "playlist", "import", str(m3u), "--user", "FAN@example.org")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Road Trip" in done.stderr and "2 of 3 entries matched" in done.stderr, done.stderr
    assert "Not In This Catalog" in done.stderr  # the summary names what did not match
    exported = _cadenza(tmp_path, "playlist", "export", "1", "--user", "fan@example.org")
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.splitlines()
    assert lines[0] == "#EXTM3U" and "#PLAYLIST:Road Trip" in lines
    assert [x for x in lines if x.startswith("cadenza:track:")] == [
        f"cadenza:track:{ids['Alpha Song']}",
        f"cadenza:track:{ids['Bravo Tune']}",
    ]
    nobody = _cadenza(tmp_path, "playlist", "import", str(m3u), "--user", "nobody@example.org")
    assert nobody.returncode == 2 and "no account" in nobody.stderr
    create_user(build_collaborators(settings, run_migrations=False).sessions, email="x@example.org")
    private = _cadenza(tmp_path, "playlist", "export", "1", "--user", "x@example.org")
    assert private.returncode == 2 and private.stdout == ""
