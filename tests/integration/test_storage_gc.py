"""`cadenza storage gc`: objects no row references are found (dry run) and removed (--apply), on a local
directory and on an S3-compatible server; never one that an ingest running meanwhile needs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from audio import make_audio
from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import Artwork, Track, TrackStatus, TrackVariant
from cadenza.cli import app
from cadenza.db.engine import transaction
from cadenza.ingest import orphans
from cadenza.ingest.pipeline import Collaborators
from cadenza.ingest.runner import InProcessRunner
from cadenza.ingest.service import accept_upload
from conftest import make_settings
from livesrv import free_port

SHA_KEPT, SHA_GONE = "ab" + "1" * 62, "cd" + "2" * 62
DAY = 86_400


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket="cadenza-gc")  # fmt: skip
    yield url
    server.stop()


def _collaborators(backend: str, engine: Engine, db_url: str, tmp: Path, endpoint: str) -> Collaborators:
    storage = {}
    if backend == "s3":
        storage = {
            "backend": "s3",
            "s3_bucket": "cadenza-gc",
            "s3_endpoint_url": endpoint,
            "s3_access_key_id": "test",
            "s3_secret_access_key": "test",
            "s3_prefix": tmp.name,
        }
    settings = make_settings(tmp / "data", db_url, **({"storage": storage} if storage else {}))
    return build_collaborators(settings, engine=engine, run_migrations=False)


def _seed(c: Collaborators) -> dict[str, str]:
    """A ready track (its upload, its current media version and an older one), a track still processing,
    an artwork, and objects nobody references any more; key → what gc must do with it."""
    with transaction(c.sessions) as s:
        ready = Track(title="Ready", status=TrackStatus.ready, source_checksum="0" * 64)
        busy = Track(title="Busy", status=TrackStatus.processing, source_checksum="1" * 64)
        failed = Track(title="Failed", status=TrackStatus.failed, source_checksum="2" * 64)
        s.add_all([ready, busy, failed, Artwork(sha256=SHA_KEPT, width=1, height=1, mime="image/png",
                                               size_bytes=1, variants=[])])  # fmt: skip
        s.flush()
        ready.source_key = f"uploads/{ready.id}/0000.flac"
        ready.media_prefix = f"tracks/{ready.id}/v2"
        ready.waveform_key = f"tracks/{ready.id}/v2/waveform.json"
        busy.source_key = f"uploads/{busy.id}/1111.flac"
        r, b, f = ready.id, busy.id, failed.id
    plan = {
        f"uploads/{r}/0000.flac": "keep",
        f"tracks/{r}/v2/hls/master.m3u8": "keep",
        f"tracks/{r}/v2/waveform.json": "keep",
        f"tracks/{r}/v1/hls/old.m4s": "orphan",  # an older version of a ready track
        f"uploads/{r}/9999.flac": "orphan",  # an upload the track no longer points at
        f"uploads/{b}/1111.flac": "keep",  # processing: all of it is kept
        f"tracks/{b}/v1/hls/seg.m4s": "keep",
        f"tracks/{f}/v1/hls/seg.m4s": "orphan",  # a failed track's media
        f"tracks/{r + b + f + 100}/v/x.m4s": "orphan",  # a deleted track's
        f"uploads/{r + b + f + 100}/y.flac": "orphan",
        f"artwork/ab/{SHA_KEPT}/original.png": "keep",
        f"artwork/cd/{SHA_GONE}/300.webp": "orphan",
        "notes/readme.txt": "keep",  # not a layout of ours: never touched
    }
    for i, key in enumerate(plan):
        c.store.put_bytes(key, b"x" * (100 + i))
    return plan


def _keys(c: Collaborators) -> set[str]:
    return {k for k, _ in c.store.scan()}


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_gc_finds_and_removes_exactly_the_orphans(
    backend: str, engine: Engine, db: tuple[Engine, str], tmp_path: Path, s3_endpoint: str
) -> None:
    c = _collaborators(backend, engine, db[1], tmp_path, s3_endpoint)
    plan = _seed(c)
    orphans_expected = {k for k, v in plan.items() if v == "orphan"}
    later = lambda: time.time() + 2 * DAY  # noqa: E731  everything written is two days old by then

    dry = orphans.collect(c.store, c.sessions, clock=later)
    assert set(dry.orphan_keys) == orphans_expected and _keys(c) == set(plan)  # a dry run deletes nothing
    assert dry.orphans == len(orphans_expected) and dry.deleted == 0
    sizes = {k: 100 + i for i, k in enumerate(plan)}
    assert dry.orphan_bytes == sum(sizes[k] for k in orphans_expected)
    assert dry.kinds["tracks"].kept_in_flight == 1 and dry.kinds["uploads"].kept_in_flight == 1
    assert dry.kinds["other"].objects == 1 and dry.kinds["other"].orphans == 0

    # Written just now, the orphans are young: kept by the grace period.
    young = orphans.collect(c.store, c.sessions, apply=True)
    assert young.orphans == 0 and young.deleted == 0 and _keys(c) == set(plan)
    assert sum(t.kept_young for t in young.kinds.values()) == len(orphans_expected)

    done = orphans.collect(c.store, c.sessions, apply=True, clock=later)
    assert done.deleted == len(orphans_expected)
    assert _keys(c) == {k for k, v in plan.items() if v == "keep"}
    assert orphans.collect(c.store, c.sessions, clock=later).orphans == 0


def test_gc_command_dry_run_by_default_then_apply(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = _collaborators("local", engine, db[1], tmp_path, "")
    plan = _seed(c)
    old = time.time() - 2 * DAY
    for key in plan:
        path = c.store.local_path(key)
        assert path is not None
        os.utime(path, (old, old))
    monkeypatch.setenv("CADENZA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CADENZA_DATABASE_URL", db[1])
    monkeypatch.setenv("CADENZA_ENV", "test")
    from cadenza.config import get_settings

    get_settings.cache_clear()
    try:
        dry = CliRunner().invoke(app, ["storage", "gc"], catch_exceptions=False)
        assert dry.exit_code == 0, dry.output
        assert "dry run" in dry.output and "would delete 6 object(s)" in dry.output
        assert _keys(c) == set(plan)
        applied = CliRunner().invoke(app, ["storage", "gc", "--apply"], catch_exceptions=False)
        assert applied.exit_code == 0, applied.output
        assert "deleted 6 object(s)" in applied.output
        assert _keys(c) == {k for k, v in plan.items() if v == "keep"}
    finally:
        get_settings.cache_clear()


def test_gc_running_over_and_over_during_ingest_takes_nothing_a_track_needs(
    engine: Engine, db: tuple[Engine, str], tmp_path: Path
) -> None:
    """Two uploads go through the whole pipeline (in-process runner, two workers) while gc runs with
    --apply in a loop and a short grace period; both tracks end ready with every object they reference
    in the store, and an old orphan seeded beforehand is gone."""
    c = _collaborators("local", engine, db[1], tmp_path, "")
    c.store.put_bytes("tracks/987654/v/hls/stale.m4s", b"stale")
    stale = c.store.local_path("tracks/987654/v/hls/stale.m4s")
    assert stale is not None
    os.utime(stale, (time.time() - DAY, time.time() - DAY))
    sources = [make_audio(tmp_path / f"song{i}.flac", duration=12, seed=40 + i) for i in range(2)]
    stop = threading.Event()
    errors: list[BaseException] = []
    runs: list[orphans.GcReport] = []

    def gc_loop() -> None:
        try:
            while not stop.is_set():
                runs.append(orphans.collect(c.store, c.sessions, apply=True, grace_sec=2.0))
                time.sleep(0.02)
        except BaseException as exc:  # reported below
            errors.append(exc)

    runner = InProcessRunner(c, workers=2)
    thread = threading.Thread(target=gc_loop)
    thread.start()
    try:
        tracks = [accept_upload(c, runner, path=p, filename=p.name) for p in sources]
        for t in tracks:
            runner.wait(t.id, timeout=300)
    finally:
        stop.set()
        thread.join(60)
        runner.shutdown()
    assert not errors, errors
    assert not c.store.exists("tracks/987654/v/hls/stale.m4s")
    with c.sessions() as s:
        for t in tracks:
            track = s.get(Track, t.id)
            assert track is not None and track.status == TrackStatus.ready, track and track.failure_reason
            needed = [track.source_key, track.waveform_key, f"{track.media_prefix}/hls/master.m3u8"]
            needed += list(s.scalars(select(TrackVariant.storage_key).where(TrackVariant.track_id == t.id)))
            missing = [k for k in needed if not k or not c.store.exists(k)]
            assert not missing, missing
            # every segment a playlist names is there too
            for key in c.store.list(f"{track.media_prefix}/hls"):
                if key.endswith(".m3u8"):
                    with c.store.fetch(key) as path:
                        for line in path.read_text().splitlines():
                            if line and not line.startswith("#"):
                                ref = os.path.normpath(f"{os.path.dirname(key)}/{line}")
                                assert c.store.exists(ref), ref
    assert orphans.collect(c.store, c.sessions, grace_sec=0).orphans == 0
    assert len(runs) > 3 and any(r.kinds["tracks"].kept_in_flight for r in runs), "gc should overlap ingest"
