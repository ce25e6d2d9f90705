"""Storage per track with CMAF shared by HLS and DASH, against serving DASH from a copy of its own.

Transcodes one generated 4-minute stereo 44.1 kHz FLAC with the ingest code (one decode per process,
as published), then counts bytes: the CMAF AAC segments both manifests use, the manifests, the FLAC
stream of the hi-fi tier, the downloads; and, for comparison, the DASH segments ffmpeg's dash muxer
writes from the same encodes (`-c copy`), which is what a second, DASH-only copy would add.

    .venv/bin/python bench/cmaf_storage.py [--duration 240]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from audio import make_audio  # noqa: E402
from cadenza.config import Ingest  # noqa: E402
from cadenza.ingest import ffmpeg  # noqa: E402
from cadenza.ingest import transcode as tc  # noqa: E402


def _bytes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=240)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cadenza-cmaf-"))
    try:
        source = make_audio(
            tmp / "src.flac", duration=args.duration, kind="music", sample_rate=44_100, channels=2
        )
        out = tmp / "out"
        tc.transcode(source, sample_rate=44_100, channels=2, lossless=True, bits_per_sample=16,
                     duration_sec=args.duration, out_dir=out, cfg=Ingest())  # fmt: skip
        media = [p for p in (out / "hls").rglob("*") if p.suffix in (".mp4", ".m4s")]
        hls_manifests = [p for p in out.rglob("*.m3u8")]
        mpds = [p for p in out.rglob("*.mpd")]
        flac_stream = [p for p in (out / "flac").iterdir() if p.suffix in (".mp4", ".m4s")]
        dash_copy = 0
        for rendition in sorted((out / "hls").iterdir()):
            if not rendition.is_dir():
                continue
            target = tmp / "dash" / rendition.name
            target.mkdir(parents=True)
            ffmpeg.run(["-i", str(rendition / "index.m3u8"), "-map", "0:a", "-c", "copy", "-f", "dash",
                        "-seg_duration", "6", str(target / "manifest.mpd")])  # fmt: skip
            dash_copy += _bytes([p for p in target.iterdir() if p.suffix != ".mpd"])
        aac = _bytes(media)
        rows = [
            ("AAC CMAF segments + inits (3 renditions, used by HLS and DASH)", aac),
            ("HLS playlists (masters + media)", _bytes(hls_manifests)),
            ("DASH MPDs (everyone + hi-fi)", _bytes(mpds)),
            ("FLAC stream, fMP4 (hi-fi tier)", _bytes(flac_stream)),
            ("downloads (MP3 320 + FLAC)", _bytes(list((out / "download").iterdir()))),
        ]
        for name, size in rows:
            print(f"{name:66s} {size:>12,d}")
        shared = aac + _bytes(hls_manifests) + _bytes(mpds)
        separate = aac + _bytes(hls_manifests) + dash_copy + _bytes(mpds)
        print(f"{'HLS + DASH, shared CMAF segments (this layout)':66s} {shared:>12,d}")
        print(f"{'HLS + DASH, a separate DASH copy (ffmpeg dash muxer, -c copy)':66s} {separate:>12,d}")
        saved = separate - shared
        print(f"saved by sharing: {saved:,d} bytes ({saved / separate:.0%} of the HLS + DASH set)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
