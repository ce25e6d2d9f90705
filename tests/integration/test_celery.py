"""The pipeline through a real Celery worker process on Redis, including a worker killed mid-task."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from audio import make_audio
from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import Track, TrackStatus
from cadenza.ingest import pipeline
from cadenza.ingest.queue import CeleryRunner, make_celery
from cadenza.ingest.service import accept_upload
from conftest import drop_schema, make_settings, make_test_engine

REDIS = "redis://127.0.0.1:6379"


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[pipeline.Collaborators, CeleryRunner, subprocess.Popen[bytes]]]:
    tmp = tmp_path_factory.mktemp("celery")
    engine, url, schema = make_test_engine("postgres", tmp)
    broker = f"{REDIS}/{random.randint(1, 15)}"
    redis.Redis.from_url(broker).flushdb()
    env = {
        **os.environ,
        "CADENZA_BROKER_URL": broker,
        "CADENZA_DATABASE_URL": url,
        "CADENZA_DATA_DIR": str(tmp / "data"),
        "CADENZA_ENV": "test",
    }
    log = (tmp / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "cadenza.cli", "worker", "--concurrency", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    settings = make_settings(tmp / "data", url, broker_url=broker)
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    yield c, CeleryRunner(make_celery(broker)), worker
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
    engine.dispose()
    drop_schema(schema)  # type: ignore[arg-type]
    print((tmp / "worker.log").read_text()[-3000:])


def _wait(
    c: pipeline.Collaborators, track_id: int, *, until: str | None = None, timeout: float = 120
) -> Track:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with c.sessions() as s:
            t = s.get(Track, track_id)
            assert t is not None
            if until is not None and t.stage == until:
                return t
            if until is None and t.status != TrackStatus.processing:
                return t
        time.sleep(0.05)
    raise AssertionError(f"track {track_id} did not get there in {timeout} s")


def test_celery_chain_makes_the_track_ready(cluster, tmp_path: Path) -> None:
    c, runner, _ = cluster
    src = make_audio(tmp_path / "a.flac", duration=10, seed=41)
    track = accept_upload(c, runner, path=src, filename=src.name)
    done = _wait(c, track.id)
    assert done.status == TrackStatus.ready, done.failure_reason
    assert done.stage == pipeline.DONE


def test_celery_reports_a_bad_upload(cluster, tmp_path: Path) -> None:
    c, runner, _ = cluster
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    track = accept_upload(c, runner, path=bad, filename=bad.name)
    done = _wait(c, track.id)
    assert done.status == TrackStatus.failed and done.stage == "validate" and done.failure_reason


def test_worker_killed_mid_transcode_does_not_lose_the_track(cluster, tmp_path: Path) -> None:
    c, runner, worker = cluster
    src = make_audio(tmp_path / "long.flac", duration=90, seed=43)
    track = accept_upload(c, runner, path=src, filename=src.name)
    _wait(c, track.id, until="transcode", timeout=60)
    time.sleep(0.5)
    children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
    assert children, "the worker has no child process to kill"
    for pid in children:
        os.kill(int(pid), signal.SIGKILL)  # the pool process running the task dies without a word
    done = _wait(c, track.id, timeout=180)
    assert done.status == TrackStatus.ready, done.failure_reason
