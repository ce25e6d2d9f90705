"""Test media made on the spot with ffmpeg's lavfi sources: nothing binary is shipped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from cadenza.demo import synth_tune

# Container/codec arguments per file suffix.
CODECS: dict[str, list[str]] = {
    ".flac": ["-c:a", "flac"],
    ".wav": ["-c:a", "pcm_s16le"],
    ".aiff": ["-c:a", "pcm_s16be"],
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    ".m4a": ["-c:a", "aac", "-b:a", "192k"],
    ".aac": ["-c:a", "aac", "-b:a", "160k", "-f", "adts"],
    ".ogg": ["-c:a", "libopus", "-b:a", "128k"],
    ".opus": ["-c:a", "libopus", "-b:a", "128k"],
    ".alac.m4a": ["-c:a", "alac"],
    ".wv": ["-c:a", "wavpack"],
}


def _melody(seed: int, duration: float, sample_rate: int, channels: int) -> np.ndarray:
    return synth_tune(seed, duration, sample_rate, channels)


def make_audio(
    path: Path,
    *,
    duration: float = 8.0,
    kind: str = "music",
    seed: int = 1,
    sample_rate: int = 44100,
    channels: int = 2,
    extra: list[str] | None = None,
) -> Path:
    """Write a generated audio file whose format follows the suffix of `path`.

    kind: "music" (seeded tune plus quiet pink noise: rich enough for encoders and Chromaprint),
    "noise" (pink noise), "sine" (440 Hz), "silence".
    """
    layout = "stereo" if channels == 2 else "mono" if channels == 1 else f"{channels}c"
    pcm: bytes | None = None
    if kind == "music":
        pcm = _melody(seed, duration, sample_rate, channels).tobytes()
        src = f"anull,aformat=channel_layouts={layout}"
    elif kind == "noise":
        noise = f"anoisesrc=color=pink:seed={seed}:amplitude=0.5:r={sample_rate}:d={duration}"
        src = f"{noise},aformat=channel_layouts={layout}"
    elif kind == "sine":
        sine = f"sine=frequency=440:sample_rate={sample_rate}:duration={duration}"
        src = f"{sine},aformat=channel_layouts={layout}"
    elif kind == "silence":
        src = f"anullsrc=r={sample_rate}:cl={layout},atrim=duration={duration}"
    else:
        raise ValueError(kind)
    name = path.name
    suffix = ".alac.m4a" if name.endswith(".alac.m4a") else path.suffix
    if pcm is not None:
        source = ["-f", "f32le", "-ar", str(sample_rate), "-ac", str(channels), "-i", "pipe:0", "-af", src]
    else:
        source = ["-filter_complex", src]
    args = [
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *source,
        *CODECS[suffix],
        *(extra or []),
        str(path),
    ]
    subprocess.run(args, check=True, input=pcm if pcm is not None else b"")
    return path


def transcode_file(src: Path, dst: Path, *, extra: list[str] | None = None) -> Path:
    """Re-encode an existing file into the format named by `dst`'s suffix (e.g. a lossy copy)."""
    suffix = ".alac.m4a" if dst.name.endswith(".alac.m4a") else dst.suffix
    args = [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(src),
        *(extra or []),
        *CODECS[suffix],
        str(dst),
    ]
    subprocess.run(args, check=True)
    return dst


def media_duration(path: Path) -> float:
    """Duration in seconds as an outside client measures it: decode fully and count samples."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())
