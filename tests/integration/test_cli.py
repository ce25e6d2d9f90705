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
