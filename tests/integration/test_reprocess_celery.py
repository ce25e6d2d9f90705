"""The reprocessing task through a real Celery worker that takes only the `cadenza-analysis` queue
(Redis, PostgreSQL): `cadenza reprocess --queue` sends the tracks there, apart from new uploads."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from audio import make_audio
from cadenza.bootstrap import build_collaborators
from cadenza.catalog.models import Track
from cadenza.db.engine import transaction
from cadenza.ingest import reprocess as rp
from cadenza.ingest.queue import make_celery
from cadenza.ingest.service import accept_upload
from conftest import InlineRunner, drop_schema, make_settings, make_test_engine

REDIS = "redis://127.0.0.1:6379"


def test_an_analysis_worker_measures_a_queued_track(tmp_path: Path) -> None:
    engine, url, schema = make_test_engine("postgres", tmp_path)
    broker = f"{REDIS}/{random.randint(1, 15)}"
    redis.Redis.from_url(broker).flushdb()
    settings = make_settings(tmp_path / "data", url, broker_url=broker)
    c = build_collaborators(settings, engine=engine, run_migrations=False)
    src = make_audio(tmp_path / "a.flac", duration=5, seed=51)
    tid = accept_upload(c, InlineRunner(c), path=src, filename=src.name).id
    with transaction(c.sessions) as s:
        t = s.get(Track, tid)
        assert t is not None and t.loudness_lufs is not None
        measured, t.loudness_lufs, t.loudness_blocks = t.loudness_lufs, None, None
    env = {
        **os.environ,
        "CADENZA_BROKER_URL": broker,
        "CADENZA_DATABASE_URL": url,
        "CADENZA_DATA_DIR": str(tmp_path / "data"),
        "CADENZA_ENV": "test",
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "cadenza.cli", "worker", "--concurrency", "1", "--queues", rp.QUEUE],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        make_celery(broker).send_task(rp.TASK_NAME, args=(tid, ["loudness"]), queue=rp.QUEUE)
        deadline = time.monotonic() + 120
        got = None
        while time.monotonic() < deadline and got is None:
            with c.sessions() as s:
                got = s.get(Track, tid).loudness_lufs  # type: ignore[union-attr]
            time.sleep(0.2)
        assert got == measured, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        engine.dispose()
        drop_schema(schema)  # type: ignore[arg-type]
