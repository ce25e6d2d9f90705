"""Crash leftovers on both databases: the temp file of an upload whose receiving process was killed is
removed at start, one another live process is still receiving is kept; scratch work directories go when
their track is gone, ready or failed, and stay while it is processing (it resumes) or was just touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cadenza.bootstrap import bootstrap, build_collaborators
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import transaction
from cadenza.ingest.leftovers import clean_leftovers
from cadenza.ingest.pipeline import Collaborators
from conftest import make_settings

SRC = Path(__file__).resolve().parents[2] / "src"

# A process that starts receiving an upload through the real receive_upload and never finishes: the body
# stops mid-file and the client goes quiet. It prints the temp file's path once the file exists.
RECEIVER = r"""
import asyncio, sys
from pathlib import Path
from starlette.requests import Request
from cadenza.web.upload import receive_upload

dest = Path(sys.argv[1])
boundary = "b0undary"
head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n\r\n").encode()
sent = [head + b"ID3" + bytes(4096)]
before = set(dest.glob("upload-*"))  # other receivers' files

async def receive():
    if sent:
        return {"type": "http.request", "body": sent.pop(), "more_body": True}
    (path,) = set(dest.glob("upload-*")) - before
    print(path, flush=True)
    await asyncio.sleep(3600)

scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
         "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())]}
asyncio.run(receive_upload(Request(scope, receive), dest=dest, limit=1 << 30))
"""


def _start_receiver(dest: Path) -> tuple[subprocess.Popen[str], Path]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(dest)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, f"the receiver did not start (exit code {proc.poll()})"
    return proc, Path(line)


@pytest.fixture
def c(engine: Engine, db: tuple[Engine, str], tmp_path: Path) -> Iterator[Collaborators]:
    settings = make_settings(tmp_path / "data", db[1])
    yield build_collaborators(settings, engine=engine, run_migrations=False)


def test_a_killed_receivers_upload_is_removed_and_a_live_ones_kept(c: Collaborators) -> None:
    uploads = c.settings.uploads_path
    uploads.mkdir(parents=True)
    killed, dead_file = _start_receiver(uploads)
    live, live_file = _start_receiver(uploads)
    try:
        killed.send_signal(signal.SIGKILL)  # no cleanup code runs: the file stays, its lock goes
        killed.wait(timeout=30)
        assert dead_file.exists() and dead_file.stat().st_size > 0
        (uploads / "notes.txt").write_text("not an upload")  # not ours: never touched
        report = clean_leftovers(c)
        assert (report.uploads_removed, report.uploads_in_progress) == (1, 1)
        assert not dead_file.exists() and live_file.exists() and (uploads / "notes.txt").exists()
    finally:
        live.kill()
        live.wait(timeout=30)
    assert clean_leftovers(c).uploads_removed == 1  # once its receiver is gone too
    assert sorted(p.name for p in uploads.iterdir()) == ["notes.txt"]


def _work_dir(c: Collaborators, name: str, *, age_sec: float) -> Path:
    """A scratch directory like the pipeline's (<track>/<version>/out/...), last changed `age_sec` ago."""
    top = c.settings.work_path / name
    version = top / "0123456789abcdef"
    (version / "out").mkdir(parents=True)
    (version / "out" / "master.m3u8").write_text("#EXTM3U\n")
    (version / "transcode.json").write_text("{}")
    when = time.time() - age_sec
    for path in (version / "out", version, top):
        os.utime(path, (when, when))
    return top


def test_work_dirs_go_with_their_tracks_and_stay_while_they_process(c: Collaborators) -> None:
    ids: dict[str, int] = {}
    with transaction(c.sessions) as s:
        for status in TrackStatus:
            track = Track(title=status.value, status=status, stage="transcode")
            s.add(track)
            s.flush()
            ids[status.value] = track.id
        recent = Track(title="republishing", status=TrackStatus.ready, stage="publish")
        s.add(recent)
        s.flush()
        ids["recent"] = recent.id
    hour = 3600.0
    dirs = {name: _work_dir(c, str(track_id), age_sec=hour) for name, track_id in ids.items()}
    dirs["recent"] = c.settings.work_path / str(ids["recent"])
    os.utime(dirs["recent"])  # changed just now: another process may be publishing it
    dirs["missing"] = _work_dir(c, str(max(ids.values()) + 1000), age_sec=hour)  # its track was deleted
    dirs["huge"] = _work_dir(c, "9" * 30, age_sec=hour)  # not a track id we could have made
    dirs["other"] = _work_dir(c, "tmp-scratch", age_sec=hour)
    assert c.settings.ingest.stage_timeout_sec < hour

    report = clean_leftovers(c)

    gone = {name for name, path in dirs.items() if not path.exists()}
    assert gone == {"ready", "failed", "taken_down", "deleted", "missing"}  # only processing tracks resume
    assert (report.work_dirs_removed, report.work_dirs_kept) == (5, 2)  # processing, recent
    assert (dirs["processing"] / "0123456789abcdef" / "transcode.json").exists()  # intact, to resume
    later = clean_leftovers(c, clock=lambda: time.time() + hour)
    assert later.work_dirs_removed == 1 and not dirs["recent"].exists()
    assert dirs["processing"].exists()


def test_bootstrap_cleans_before_resuming(c: Collaborators) -> None:
    uploads = c.settings.uploads_path
    uploads.mkdir(parents=True)
    dead = uploads / "upload-abc123"
    dead.write_bytes(b"half an upload")  # written by a process that died: nobody holds its lock
    with transaction(c.sessions) as s:
        s.add(track := Track(title="done", status=TrackStatus.ready))
        s.flush()
        track_id = track.id
    old = _work_dir(c, str(track_id), age_sec=3600)
    app = bootstrap(c.settings)
    try:
        assert not dead.exists() and not old.exists()
    finally:
        app.close()
