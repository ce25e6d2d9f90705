"""`cadenza import` of a large folder or a manifest: resumable after a SIGKILL without a file imported
twice, the same file twice in a batch skipped, a re-encoded copy flagged by fingerprint, manifests'
metadata applied, single uploads ahead of bulk ones (in-process lanes, Celery's bulk queue)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select

from audio import make_audio, transcode_file
from cadenza.catalog.models import Track, TrackStatus
from cadenza.db.engine import make_session_factory, transaction
from cadenza.errors import InvalidInput
from cadenza.ingest import bulk
from cadenza.ingest.models import ImportItem
from cadenza.ingest.queue import CeleryRunner, make_celery
from cadenza.ingest.runner import InProcessRunner
from conftest import IdleRunner, make_settings

CADENZA = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"


def _label_folder(root: Path, n: int) -> Path:
    """n distinct generated FLACs in two album folders, the first one again byte for byte under another
    name, and the second one re-encoded to MP3 (the same recording)."""
    music = root / "label"
    for i in range(n):
        album = music / f"album-{i % 2}"
        album.mkdir(parents=True, exist_ok=True)
        make_audio(album / f"{i:02d}-song.flac", duration=5, seed=200 + i)
    shutil.copyfile(music / "album-0" / "00-song.flac", music / "album-1" / "99-same-bytes.flac")
    transcode_file(music / "album-1" / "01-song.flac", music / "album-1" / "98-reencoded.mp3")
    return music


def _env(tmp: Path, url: str) -> dict[str, str]:
    env = {**os.environ, "CADENZA_DATA_DIR": str(tmp / "data"), "CADENZA_ENV": "test", "COLUMNS": "200"}
    env["CADENZA_DATABASE_URL"] = url
    env.pop("CADENZA_BROKER_URL", None)
    return env


def test_an_import_killed_half_way_resumes_without_importing_any_file_twice(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path
) -> None:
    music = _label_folder(tmp_path, 6)
    command = [CADENZA, "import", str(music), "--batch", "label-1", "--max-in-flight", "1"]
    sessions = make_session_factory(engine)
    first = subprocess.Popen(
        command, env=_env(tmp_path, db[1]), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # kill it once a few files are in, with one processing
            with sessions() as s:
                queued = s.scalar(select(func.count()).where(ImportItem.state == "queued")) or 0
            if queued >= 3 or first.poll() is not None:
                break
            time.sleep(0.1)
        assert first.poll() is None, "the import should still be running when it is killed"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    with sessions() as s:
        states = dict(s.execute(select(ImportItem.state, func.count()).group_by(ImportItem.state)).all())
        tracks_then = s.scalar(select(func.count()).select_from(Track))
    assert states.get("pending", 0) > 0, states  # killed before the end
    assert tracks_then == states.get("queued", 0)  # a track for each file handed over, never one more

    again = subprocess.run(command, env=_env(tmp_path, db[1]), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ready: 7  failed: 0  duplicates: 2" in again.stdout, again.stdout
    with sessions() as s:
        items = {Path(i.path).name: i for i in s.scalars(select(ImportItem))}
        tracks = {t.id: t for t in s.scalars(select(Track))}
    assert len(items) == 8 and len(tracks) == 7  # 6 songs + the re-encoded copy; the same bytes skipped
    assert sorted(i.track_id for i in items.values() if i.track_id) == sorted(tracks)  # one track per file
    assert all(t.status == TrackStatus.ready for t in tracks.values())
    same = items["99-same-bytes.flac"]
    assert same.state == "duplicate" and same.track_id is None
    assert same.duplicate_of_item == items["00-song.flac"].id
    reencoded = tracks[items["98-reencoded.mp3"].track_id]  # type: ignore[index]
    assert reencoded.duplicate_of == items["01-song.flac"].track_id
    assert "the same file as track" in again.stdout and "duplicate of track" in again.stdout
    # Once more: nothing left to do, nothing imported again.
    third = subprocess.run(command, env=_env(tmp_path, db[1]), capture_output=True, text=True, timeout=300)
    assert third.returncode == 0 and "ready: 7" in third.stdout, third.stdout + third.stderr
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Track)) == 7


def test_manifests_name_the_files_and_their_metadata(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path
) -> None:
    from cadenza.bootstrap import build_collaborators

    c = build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)
    (tmp_path / "files").mkdir()
    a = make_audio(tmp_path / "files" / "a.flac", duration=4, seed=1)
    b = make_audio(tmp_path / "files" / "b.flac", duration=4, seed=2)
    csv_manifest = tmp_path / "delivery.csv"
    csv_manifest.write_text(
        f"path,title,artists,isrc\nfiles/a.flac,Night Drive,Ada; The Band,QZABC2600001\n{b},Morning,,\n"
    )
    with transaction(c.sessions) as s:
        batch = bulk.open_batch(s, name="delivery-csv").id
    assert bulk.plan(c.sessions, batch_id=batch, entries=bulk.from_manifest(csv_manifest)) == 2
    assert bulk.plan(c.sessions, batch_id=batch, entries=bulk.from_manifest(csv_manifest)) == 2  # idempotent
    bulk.run(c, IdleRunner(), batch_id=batch)
    with c.sessions() as s:
        got = {t.title: (t.isrc, [x.name for x in t.artists]) for t in s.scalars(select(Track))}
        assert got == {"Night Drive": ("QZABC2600001", ["Ada", "The Band"]), "Morning": (None, [])}
        assert bulk.tally(s, batch_id=batch).processing == 2

    json_manifest = tmp_path / "delivery.json"
    json_manifest.write_text(json.dumps({"tracks": [{"path": str(a), "title": "Again", "genre": "Jazz"}]}))
    assert [e.meta for e in bulk.from_manifest(json_manifest)] == [{"title": "Again", "genre": "Jazz"}]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"path": "x.flac", "colour": "blue"}]))
    with pytest.raises(InvalidInput, match="unknown field"):
        list(bulk.from_manifest(bad))
    no_path = tmp_path / "bad.csv"
    no_path.write_text("file,title\nx.flac,X\n")
    with pytest.raises(InvalidInput, match="`path` column"):
        list(bulk.from_manifest(no_path))


def test_a_missing_file_in_a_manifest_is_rejected_and_the_rest_imported(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path
) -> None:
    from cadenza.bootstrap import build_collaborators

    c = build_collaborators(make_settings(tmp_path / "data", db[1]), engine=engine, run_migrations=False)
    make_audio(tmp_path / "here.flac", duration=4, seed=3)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path\nhere.flac\ngone.flac\n")
    with transaction(c.sessions) as s:
        batch = bulk.open_batch(s, name="m").id
    bulk.plan(c.sessions, batch_id=batch, entries=bulk.from_manifest(manifest))
    bulk.run(c, IdleRunner(), batch_id=batch)
    with c.sessions() as s:
        rows = {Path(i.path).name: (i.state, i.reason) for i in s.scalars(select(ImportItem))}
    assert rows["here.flac"] == ("queued", None)
    assert rows["gone.flac"][0] == "rejected" and "cannot read the file" in (rows["gone.flac"][1] or "")


def test_single_uploads_are_taken_before_a_waiting_bulk_import() -> None:
    """One worker busy with a bulk track, two more bulk tracks waiting: a single upload submitted now
    runs next, before them (the in-process runner's lanes)."""
    order: list[int] = []
    started = threading.Event()
    release = threading.Event()

    def stage(_c: object, track_id: int, _stage: str) -> None:
        order.append(track_id)
        if track_id == 1:
            started.set()
            release.wait(10)

    runner = InProcessRunner(None, workers=1, run_stage=stage)  # type: ignore[arg-type]
    runner.submit(1, lane="bulk")
    assert started.wait(10)
    runner.submit(2, lane="bulk")
    runner.submit(3, lane="bulk")
    runner.submit(10)  # a single upload: the interactive lane
    release.set()
    for t in (1, 2, 3, 10):
        runner.wait(t, timeout=10)
    runner.shutdown()
    assert order == [1, 10, 2, 3]


def test_bulk_imports_go_to_their_own_celery_queue() -> None:
    broker = "redis://127.0.0.1:6379/14"
    queue = f"test-bulk-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(broker)
    try:
        runner = CeleryRunner(make_celery(broker), bulk_queue=queue)
        runner.submit(123, lane="bulk")
        assert client.llen(queue) == 1  # the chain's first stage waits in the bulk queue
        body = json.loads(client.lindex(queue, 0))  # type: ignore[arg-type]
        assert body["headers"]["task"] == "cadenza.ingest.run_stage"
        assert body["headers"]["argsrepr"] == "(123, 'validate')"
    finally:
        client.delete(queue)
