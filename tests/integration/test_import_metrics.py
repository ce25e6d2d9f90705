"""`cadenza import` reports its progress in Prometheus metrics (telemetry/imports.py), in multiprocess
mode as in a cluster: a scrape of the per-host metrics directory, taken while a real import of a few
generated files runs, sees the figures move (files done, pending, an ETA), and the last scrape the
import's end (everything done or skipped, ETA 0)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from audio import make_audio

CADENZA = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"
BATCH = "metrics-batch"


def _scrape(directory: Path) -> dict[str, float]:
    """What an API process's /metrics would say about the batch: cadenza_import_* summed over every
    process's files in the directory (prometheus_client's MultiProcessCollector, as telemetry.metrics)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    out: dict[str, float] = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name.startswith("cadenza_import_") and s.labels.get("batch") == BATCH:
                out[
                    s.name.removeprefix("cadenza_import_")
                    + (f":{s.labels['state']}" if "state" in s.labels else "")
                ] = s.value
    return out


def test_a_running_import_moves_its_figures_in_the_scrape(tmp_path: Path) -> None:
    music = tmp_path / "music"
    music.mkdir()
    for i in range(4):
        make_audio(music / f"{i:02d}.flac", duration=4, seed=300 + i)
    shutil.copyfile(music / "00.flac", music / "99-same-bytes.flac")  # skipped: the same bytes
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "CADENZA_DATA_DIR": str(tmp_path / "data"),
        "CADENZA_DATABASE_URL": f"sqlite:///{tmp_path / 'cadenza.db'}",
        "CADENZA_ENV": "test",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "COLUMNS": "200",
    }
    env.pop("CADENZA_BROKER_URL", None)
    command = [CADENZA, "import", str(music), "--batch", BATCH, "--max-in-flight", "1"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[dict[str, float]] = []
    try:
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            if figures := _scrape(metrics_dir):
                seen.append(figures)
            time.sleep(0.2)
        out = proc.communicate(timeout=60)[0].decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    final = _scrape(metrics_dir)
    assert final == {
        "planned_tracks": 5,
        "tracks:done": 4,
        "tracks:skipped": 1,
        "tracks:failed": 0,
        "tracks:processing": 0,
        "tracks:pending": 0,
        "eta_seconds": 0,
    }, final
    # While it ran: the scrape saw the import part-way, and the figures only ever moved forward.
    done = [f["tracks:done"] for f in seen if "tracks:done" in f]
    assert done == sorted(done), done
    middle = [f for f in seen if 0 < f.get("tracks:done", 0) < 4 and "eta_seconds" in f]
    assert middle, done
    assert all(f.get("planned_tracks", 5) == 5 for f in seen)
    # Once a file has finished there is a pace, and so a finite ETA for the files still left.
    etas = [f["eta_seconds"] for f in middle]
    finite = [e for e in etas if not math.isnan(e)]
    assert finite and all(0 < e < 3600 for e in finite), etas
