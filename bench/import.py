"""Bulk import benchmark: `cadenza import` of a folder of 4-minute FLACs, tracks per hour with one and
with two pipeline workers, and CPU seconds per track-minute against the seed's command on the same file.

(a) the seed's command (bench/ingest.py: one ffmpeg, three AAC HLS variants) on one source: its CPU
    seconds (user + system of ffmpeg) per minute of audio;
(b) `cadenza import <folder>` as a user runs it (a subprocess, fresh SQLite catalog and local store,
    the in-process runner) with CADENZA_INGEST__WORKERS=1, then =2: wall time → tracks per hour, and
    the CPU seconds of the import and every ffmpeg it ran, per minute of audio. Everything the import
    does counts: checksums, validation (a full decode), transcode (five outputs and the analysis taps),
    waveform, fingerprint matching, publishing, the durable per-file state.

    .venv/bin/python bench/import.py [--tracks 4] [--duration 240]

CPU seconds are what to compare (they move little with the machine's load); tracks per hour depend on
how many cores are free, so the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from audio import make_audio  # noqa: E402
from ingest import children_cpu, run_seed  # noqa: E402

CADENZA = shutil.which("cadenza", path=str(Path(sys.executable).parent)) or "cadenza"


def _sources(folder: Path, n: int, duration: float) -> list[Path]:
    """n distinct 'music' FLACs (stereo, 44.1 kHz), generated once and cached in bench/out/."""
    cache = OUT / "import"
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        cached = cache / f"music_{duration:g}s_{i}.flac"
        if not cached.exists():
            tmp = cached.with_name(f".{cached.name}.tmp.flac")
            make_audio(tmp, duration=duration, kind="music", seed=500 + i)
            tmp.rename(cached)
        dest = folder / cached.name
        shutil.copyfile(cached, dest)
        paths.append(dest)
    return paths


def import_run(folder: Path, workers: int, scratch: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, the summary line) of `cadenza import folder` with `workers`."""
    data = scratch / f"data-{workers}"
    shutil.rmtree(data, ignore_errors=True)
    env = {**os.environ, "CADENZA_DATA_DIR": str(data), "CADENZA_ENV": "test", "COLUMNS": "200",
           "CADENZA_INGEST__WORKERS": str(workers), "PYTHONPATH": str(ROOT / "src")}  # fmt: skip
    env.pop("CADENZA_DATABASE_URL", None)
    env.pop("CADENZA_BROKER_URL", None)
    # migrations and imports warm up first (not timed): an empty import
    subprocess.run([CADENZA, "import", "--help"], env=env, capture_output=True, check=True)
    before = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [CADENZA, "import", str(folder), "--max-in-flight", str(2 * workers)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    cpu = children_cpu() - before
    summary = next(
        (line for line in proc.stdout.splitlines() if line.startswith("ready:")), proc.stdout[-300:]
    )
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    return wall, cpu, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=4)
    ap.add_argument("--duration", type=float, default=240.0)
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="cadenza-import-bench-"))
    try:
        folder = scratch / "label"
        folder.mkdir()
        sources = _sources(folder, args.tracks, args.duration)
        minutes = args.tracks * args.duration / 60
        seed = run_seed(sources[0], scratch / "seed")[1] / (args.duration / 60)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
              f"{args.tracks} tracks of {args.duration:g} s")  # fmt: skip
        print(f"(a) seed's command (3x AAC HLS, 1 process)   {seed:6.2f} CPU s per track-minute")
        one = None
        for workers in (1, 2):
            wall, cpu, summary = import_run(folder, workers, scratch)
            per_hour = args.tracks / wall * 3600
            per_minute = cpu / minutes
            scale = "" if one is None else f"; {per_hour / one:.2f}x the tracks per hour of one worker"
            one = one or per_hour
            print(f"(b) cadenza import, {workers} worker(s) {per_hour:7.1f} tracks/hour ({wall:.0f} s wall) "
                  f"{per_minute:6.2f} CPU s per track-minute = {per_minute / seed:.2f}x the seed's{scale}  "
                  f"[{summary}; load {os.getloadavg()[0]:.1f}]")  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
