"""Waveform peaks the way BBC audiowaveform computes them, and its JSON (version 2) for the web player.

Transcoding streams the decoded PCM through `PeakAccumulator`, which keeps one min/max pair per pixel and
never the audio itself. The peaks are saved in audiowaveform's binary `.dat` layout (version 2, 16-bit),
so `analysis/peaks.bin` carries its own sample rate, samples per pixel and length, and `build_waveform`
turns it into the 8-bit JSON that the `waveform-data` package loads.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# audiowaveform .dat version 2 header: version, flags (bit 0 = 8-bit), sample rate, samples per pixel,
# length (pixels), channels; all little-endian 32-bit.
_HEADER = struct.Struct("<iIiiIi")
_VERSION = 2
_INT16_MIN = -32768
_INT16_MAX = 32767


def samples_per_pixel(sample_rate: int, pixels_per_second: int) -> int:
    """Samples per pixel for a zoom in pixels per second (at least 2, audiowaveform's minimum)."""
    return max(2, round(sample_rate / pixels_per_second))


@dataclass(frozen=True)
class Peaks:
    """Min/max pairs per pixel of the mono mix: `data` has shape (length, 2), int16."""

    sample_rate: int
    samples_per_pixel: int
    data: np.ndarray

    @property
    def length(self) -> int:
        """Number of pixels."""
        return int(self.data.shape[0])


class PeakAccumulator:
    """Turns a stream of interleaved s16le PCM into per-pixel min/max, chunk by chunk.

    Channels are mixed as audiowaveform does without --split-channels: the integer mean of the channels,
    truncated toward zero. A trailing partial pixel is kept, so length == ceil(frames / samples_per_pixel).
    """

    def __init__(self, sample_rate: int, channels: int, samples_per_pixel: int) -> None:
        if sample_rate <= 0 or channels <= 0 or samples_per_pixel < 2:
            raise ValueError("sample_rate and channels must be positive and samples_per_pixel at least 2")
        self.sample_rate = sample_rate
        self.channels = channels
        self.samples_per_pixel = samples_per_pixel
        self.frames = 0
        self._frame_bytes = 2 * channels
        self._leftover = b""  # bytes of an incomplete frame carried to the next chunk
        self._pending = np.empty(0, dtype=np.int16)  # mono samples of the current, unfinished pixel
        self._pixels: list[np.ndarray] = []
        self._finished = False

    def feed(self, chunk: bytes) -> None:
        """Add PCM bytes; any split of the stream into chunks gives the same result."""
        if self._finished:
            raise RuntimeError("PeakAccumulator.feed after finish")
        if self._leftover:
            chunk = self._leftover + chunk
        usable = len(chunk) - len(chunk) % self._frame_bytes
        self._leftover = chunk[usable:]
        if not usable:
            return
        frames = np.frombuffer(chunk, dtype="<i2", count=usable // 2).reshape(-1, self.channels)
        self.frames += frames.shape[0]
        mono = self._mix(frames)
        if self._pending.size:
            mono = np.concatenate((self._pending, mono))
        whole = mono.size - mono.size % self.samples_per_pixel
        if whole:
            block = mono[:whole].reshape(-1, self.samples_per_pixel)
            self._pixels.append(np.stack((block.min(axis=1), block.max(axis=1)), axis=1))
        self._pending = mono[whole:].copy()

    def finish(self) -> Peaks:
        """Close the stream (a partial last pixel counts) and return the peaks."""
        if not self._finished:
            self._finished = True
            if self._pending.size:
                tail = np.array([[self._pending.min(), self._pending.max()]], dtype=np.int16)
                self._pixels.append(tail)
                self._pending = np.empty(0, dtype=np.int16)
        data = np.concatenate(self._pixels) if self._pixels else np.empty((0, 2), dtype=np.int16)
        return Peaks(self.sample_rate, self.samples_per_pixel, data.astype(np.int16, copy=False))

    @property
    def duration_sec(self) -> float:
        """Seconds of audio fed so far."""
        return self.frames / self.sample_rate

    def _mix(self, frames: np.ndarray) -> np.ndarray:
        """Mono mix: sum of channels divided by the count, truncated toward zero like C integer division."""
        if self.channels == 1:
            return frames[:, 0].copy()
        total = frames.sum(axis=1, dtype=np.int32)
        mixed = np.sign(total) * (np.abs(total) // self.channels)
        return mixed.astype(np.int16)


def save_peaks(peaks: Peaks, path: Path) -> None:
    """Write peaks in audiowaveform's binary format (version 2, 16-bit, one channel)."""
    header = _HEADER.pack(_VERSION, 0, peaks.sample_rate, peaks.samples_per_pixel, peaks.length, 1)
    _atomic_write(path, header + peaks.data.astype("<i2").tobytes())


def load_peaks(path: Path) -> Peaks:
    """Read peaks written by `save_peaks` (or a 16-bit, single-channel audiowaveform .dat v2 file)."""
    raw = path.read_bytes()
    if len(raw) < _HEADER.size:
        raise ValueError(f"{path.name}: too short for a waveform header")
    version, flags, sample_rate, spp, length, channels = _HEADER.unpack_from(raw)
    if version != _VERSION or flags & 1 or channels != 1:
        raise ValueError(f"{path.name}: expected 16-bit mono waveform data version 2")
    body = raw[_HEADER.size :]
    if len(body) != length * 4:
        raise ValueError(f"{path.name}: header says {length} pixels, file holds {len(body) // 4}")
    data = np.frombuffer(body, dtype="<i2").reshape(-1, 2).astype(np.int16)
    return Peaks(sample_rate, spp, data)


def to_8bit(values: np.ndarray) -> np.ndarray:
    """16-bit sample values to 8-bit as audiowaveform does: value / 256 truncated toward zero, no scaling."""
    wide = values.astype(np.int32)
    return (np.sign(wide) * (np.abs(wide) // 256)).astype(np.int8)


def build_waveform(peaks_path: Path) -> dict[str, Any]:
    """The audiowaveform JSON (version 2, 8-bit, one channel) for peaks saved by the transcode stage."""
    peaks = load_peaks(peaks_path)
    data = to_8bit(peaks.data).reshape(-1)
    return {
        "version": 2,
        "channels": 1,
        "sample_rate": peaks.sample_rate,
        "samples_per_pixel": peaks.samples_per_pixel,
        "bits": 8,
        "length": peaks.length,
        "data": data.tolist(),
    }


def write_waveform_json(peaks_path: Path, out_path: Path) -> dict[str, Any]:
    """Build the waveform JSON and write it compactly (atomically); return the document."""
    doc = build_waveform(peaks_path)
    _atomic_write(out_path, json.dumps(doc, separators=(",", ":")).encode())
    return doc


def expected_length(total_samples: int, samples_per_pixel: int) -> int:
    """Pixels for a track of `total_samples` frames (the last, partial pixel counts)."""
    return math.ceil(total_samples / samples_per_pixel)


def _atomic_write(path: Path, payload: bytes) -> None:
    """Write via a temporary sibling and rename, so readers never see a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)
