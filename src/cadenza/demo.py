"""Demo content for a first run: short generated tunes (no binary media ships with Cadenza)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

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


def demo_cover(seed: int, size: int = 600) -> bytes:
    """A seeded album cover (a two-colour gradient with rings), PNG: the demo's files carry it as their
    embedded picture, so the demo catalog shows artwork read by the ingest like any upload's."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(30, 226, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, size)[:, None, None]
    pixels = (a * (1 - ramp) + b * ramp).astype(np.uint8).repeat(size, axis=1)
    im = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(5):
        x, y = rng.integers(0, size, size=2)
        r = int(rng.integers(size // 12, size // 3))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=int(rng.integers(4, 18)))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


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
            cover = path.with_suffix(".png")
            cover.write_bytes(demo_cover(sum(map(ord, album))))
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
                        "-i",
                        str(cover),
                        "-map",
                        "0:a",
                        "-map",
                        "1:v",
                        "-c:a",
                        "flac",
                        "-c:v",
                        "png",
                        "-disposition:v",
                        "attached_pic",
                        *meta,
                        str(path),
                    ]
                )
            finally:
                tmp.unlink(missing_ok=True)
                cover.unlink(missing_ok=True)
        paths.append(path)
    return paths
