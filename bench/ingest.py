"""Ingest benchmark: the seed's single-process three-rendition HLS encode vs our whole pipeline.

(a) one ffmpeg, three AAC HLS variants (the seed's command, verbatim but for paths);
(b) the whole Cadenza pipeline on a fresh SQLite catalog and local store: validate (full decode),
    transcode (all five outputs and both analysis taps), waveform JSON, fingerprint match, publish.
Runs are interleaved (a, b, a, b, ...) so machine noise hits both alike; medians are reported.
Target: b / a <= 1.0.  Usage: .venv/bin/python bench/ingest.py [--duration 240] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "tests"))

from audio import make_audio  # noqa: E402
from cadenza.bootstrap import build_collaborators  # noqa: E402
from cadenza.catalog.models import Track, TrackStatus  # noqa: E402
from cadenza.config import Ingest, Settings  # noqa: E402
from cadenza.ingest import ffmpeg, pipeline, transcode  # noqa: E402
from cadenza.ingest.service import accept_upload  # noqa: E402


def _source(duration: float) -> Path:
    """The 'music' FLAC (stereo, 44.1 kHz, 16-bit), generated once and cached in bench/out/."""
    path = OUT / f"music_{duration:g}s.flac"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.flac")
        make_audio(tmp, duration=duration, kind="music", sample_rate=44_100, channels=2)
        tmp.rename(path)
    return path


def children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (ffmpeg runs) so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_seed(source: Path, out: Path) -> tuple[float, float]:
    """The seed's command on `source` into `out` (emptied first): one process, asplit=3, three AAC
    encoders into one HLS muxer. Returns its wall seconds and its CPU seconds (user + system)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    args = [
        "-i", str(source), "-filter_complex", "[0:a]asplit=3[a1][a2][a3]",
        "-map", "[a1]", "-c:a", "aac", "-b:a", "128k",
        "-map", "[a2]", "-c:a", "aac", "-b:a", "256k",
        "-map", "[a3]", "-c:a", "aac", "-b:a", "320k",
        "-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod",
        "-var_stream_map", "a:0 a:1 a:2", "-master_pl_name", "master.m3u8",
        "-hls_segment_filename", str(out / "v%v" / "seg_%03d.aac"), str(out / "v%v" / "index.m3u8"),
    ]  # fmt: skip
    cpu, start = children_cpu(), time.perf_counter()
    ffmpeg.run(args)
    return time.perf_counter() - start, children_cpu() - cpu


def _ours(source: Path, out: Path) -> float:
    """The whole pipeline as the server runs it, on a fresh catalog each time."""
    shutil.rmtree(out, ignore_errors=True)
    settings = Settings(data_dir=out, env="test")
    c = build_collaborators(settings)

    class _Later:
        def submit(self, track_id: int, *, start: str = "validate") -> None:
            return None

    track = accept_upload(c, _Later(), path=source, filename=source.name)
    start = time.perf_counter()
    pipeline.run_all(c, track.id)
    elapsed = time.perf_counter() - start
    with c.sessions() as s:
        done = s.get(Track, track.id)
        assert done is not None and done.status == TrackStatus.ready, done and done.failure_reason
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=240.0, help="seconds of generated music")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each")
    args = parser.parse_args()
    cfg = Ingest()
    source = _source(args.duration)
    plan = transcode._plan(source, 44_100, 2, True, 16, cfg)
    split = " | ".join(" + ".join(f"{j.kind}{j.bitrate_kbps or ''}" for j in jobs) for jobs in plan.jobs)
    print(f"source: {source.relative_to(ROOT)} ({args.duration:g} s); our split: {split}")

    seed_times: list[float] = []
    our_times: list[float] = []
    for i in range(args.repeat):
        seed_times.append(run_seed(source, OUT / "seed")[0])
        our_times.append(_ours(source, OUT / "ours"))
        print(f"run {i + 1}: a (seed) {seed_times[-1]:.2f} s   b (ours) {our_times[-1]:.2f} s", flush=True)
    a, b = statistics.median(seed_times), statistics.median(our_times)
    print(f"median a (seed, 3x AAC HLS, 1 process):        {a:.2f} s")
    print(f"median b (whole pipeline, 5 outputs + waveform + fingerprint + publish):  {b:.2f} s")
    print(f"ratio b/a: {b / a:.2f}  (target <= 1.00)")


if __name__ == "__main__":
    main()
