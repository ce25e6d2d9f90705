"""Demo content for a first run: short generated tunes (no binary media ships with Cadenza)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cadenza.ingest import ffmpeg

DEMO_TRACKS = [
    ("Morning Étude", "Ana Lúcia", "First Light", "Classical", 3),
    ("Кино в полночь", "Кино Оркестр", "First Light", "Rock", 7),
    ("Harbour Lights", "The Quiet Tides", "Coastlines", "Ambient", 11),
    ("Motörway", "Motörcade", "Coastlines", "Metal", 19),
]


def synth_tune(seed: int, duration: float, sample_rate: int = 44100, channels: int = 2) -> np.ndarray:
    """A seeded tune (notes with harmonics and a pulse envelope) plus quiet noise, float32 (n, channels)."""
    rng = np.random.default_rng(seed)
    n = round(duration * sample_rate)
    t = np.arange(n, dtype=np.float64) / sample_rate
    step = 0.2 + rng.random() * 0.3
    scale = np.array([196, 220, 247, 262, 294, 330, 349, 392, 440, 494, 523, 587, 659, 698, 784])
    slots = (t // step).astype(np.int64)
    notes = rng.choice(scale, size=int(slots.max()) + 1 if n else 1)
    freq = notes[slots] if n else np.zeros(0)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    env = 0.6 + 0.4 * np.sin(np.pi * (t % step) / step)
    tone = (0.35 * np.sin(phase) + 0.15 * np.sin(2 * phase) + 0.08 * np.sin(3 * phase)) * env
    noise = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same") * 0.04
    mono = (tone + noise).astype(np.float32)
    if channels == 1:
        return mono[:, None]
    # a slight inter-channel difference keeps stereo encoders honest
    other = np.roll(mono, 11) * 0.9
    return np.stack([mono, other] + [mono * 0.5] * (channels - 2), axis=1)


def write_demo_tracks(folder: Path, *, duration: float = 45.0) -> list[Path]:
    """Tagged FLAC files for the demo catalog, made once."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (title, artist, album, genre, seed) in enumerate(DEMO_TRACKS, start=1):
        path = folder / f"{i:02d}-demo-{seed}.flac"
        if not path.exists():
            pcm = synth_tune(seed, duration)
            tmp = path.with_suffix(".f32")
            tmp.write_bytes(pcm.tobytes())
            try:
                meta = [
                    "-metadata",
                    f"title={title}",
                    "-metadata",
                    f"artist={artist}",
                    "-metadata",
                    f"album={album}",
                    "-metadata",
                    f"genre={genre}",
                    "-metadata",
                    f"track={i}",
                ]
                ffmpeg.run(
                    [
                        "-y",
                        "-f",
                        "f32le",
                        "-ar",
                        "44100",
                        "-ac",
                        "2",
                        "-i",
                        str(tmp),
                        "-c:a",
                        "flac",
                        *meta,
                        str(path),
                    ]
                )
            finally:
                tmp.unlink(missing_ok=True)
        paths.append(path)
    return paths
