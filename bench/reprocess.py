"""Reprocess benchmark: `cadenza reprocess --only loudness --all` over tracks ingested before the loudness
tap existed, in real time per core (issue 11's target: >= 30x real time per core).

(a) baseline, same run: decoding one source with ffmpeg and nothing else (`-f null`), CPU seconds;
(b) the command as an operator runs it (a subprocess on a fresh SQLite catalog and local store whose
    ready tracks have had their loudness figures cleared): its CPU and every ffmpeg's it ran (user +
    system, RUSAGE_CHILDREN), and its wall time.

Real time per core = seconds of audio analysed / CPU seconds spent; tracks per minute per core follow
from the track length. CPU seconds move little with the machine's load; wall time does, so the load
average is printed beside it.

    PYTHONPATH=src .venv/bin/python bench/reprocess.py [--tracks 4] [--duration 240]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import null, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from audio import make_audio  # noqa: E402
from cadenza.bootstrap import build_collaborators  # noqa: E402
from cadenza.catalog.models import Track, TrackStatus  # noqa: E402
from cadenza.config import Settings  # noqa: E402
from cadenza.db.engine import transaction  # noqa: E402
from cadenza.ingest import ffmpeg, pipeline  # noqa: E402
from cadenza.ingest.service import accept_upload  # noqa: E402


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _decode_cpu(source: Path) -> float:
    """CPU seconds of a bare decode of `source` (the floor any loudness measurement pays)."""
    before = _children_cpu()
    subprocess.run(
        [ffmpeg.FFMPEG, "-nostdin", "-v", "error", "-i", str(source), "-f", "null", "-"], check=True
    )
    return _children_cpu() - before


def _catalog(data: Path, sources: list[Path]) -> list[int]:
    """Ingest `sources` as the server would, then clear their loudness as if measured before the tap."""
    c = build_collaborators(Settings(data_dir=data, env="test"))

    class _Later:
        def submit(self, track_id: int, *, start: str = "validate") -> None:
            return None

    ids = []
    for src in sources:
        track = accept_upload(c, _Later(), path=src, filename=src.name)
        pipeline.run_all(c, track.id)
        ids.append(track.id)
    with transaction(c.sessions) as s:
        ready = s.query(Track).filter(Track.id.in_(ids), Track.status == TrackStatus.ready).count()
        assert ready == len(ids), "every source must be ready before reprocessing"
        s.execute(
            update(Track)
            .where(Track.id.in_(ids))
            .values(loudness_lufs=None, loudness_range_lu=None, true_peak_dbtp=None, loudness_blocks=null())
        )
    return ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=4)
    ap.add_argument("--duration", type=float, default=240.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = [
            make_audio(root / f"src_{i}.flac", duration=args.duration, kind="music", seed=100 + i)
            for i in range(args.tracks)
        ]
        data = root / "data"
        _catalog(data, sources)
        decode = statistics.median([_decode_cpu(s) for s in sources])
        env = {**os.environ, "CADENZA_DATA_DIR": str(data), "CADENZA_ENV": "test"}
        cmd = [sys.executable, "-m", "cadenza.cli", "reprocess", "--only", "loudness", "--all"]
        load = os.getloadavg()[0]
        before = _children_cpu()
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        cpu = _children_cpu() - before
        summary_ok = f"tracks: {args.tracks}  failed: 0" in done.stdout
        if done.returncode != 0 or not summary_ok:
            sys.exit(f"reprocess failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        summary = [line for line in done.stdout.splitlines() if line.startswith("tracks:")]
        audio = args.tracks * args.duration
        print(
            f"{args.tracks} tracks of {args.duration:g} s; load average {load:.1f} on {os.cpu_count()} cores"
        )
        print(f"(a) bare decode (ffmpeg -f null), median per track   {decode:6.2f} CPU s "
              f"= {args.duration / decode:5.0f}x real time per core")  # fmt: skip
        print(f"(b) cadenza reprocess --only loudness --all          {cpu / args.tracks:6.2f} CPU s/track "
              f"= {audio / cpu:5.0f}x real time per core (target >= 30x); "
              f"{args.tracks / cpu * 60:.1f} tracks per CPU-minute")  # fmt: skip
        print(
            f"    wall {wall:.1f} s ({audio / wall:.0f}x real time); "
            f"b/a CPU per track {cpu / args.tracks / decode:.2f}"
        )
        print(f"    the command's own summary: {summary[0] if summary else done.stdout.strip()[-200:]}")
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
