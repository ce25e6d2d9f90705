"""Waveform peaks: audiowaveform's arithmetic, streaming == batch, the JSON loads in `waveform-data`."""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from audio import make_audio, transcode_file
from cadenza.config import Ingest
from cadenza.ingest import transcode as tc
from cadenza.ingest import waveform as wf

JS_DIR = Path(__file__).resolve().parents[1] / "js"
CFG = Ingest()
PPS = CFG.waveform_pixels_per_second


def _reference(pcm: np.ndarray, spp: int) -> np.ndarray:
    """audiowaveform's loop, written out plainly: C-style mean of channels, min/max per spp frames."""
    total = pcm.astype(np.int64).sum(axis=1)
    mono = (np.sign(total) * (np.abs(total) // pcm.shape[1])).astype(np.int64)
    pairs = [(int(mono[i : i + spp].min()), int(mono[i : i + spp].max())) for i in range(0, len(mono), spp)]
    return np.array(pairs, dtype=np.int16).reshape(-1, 2)


# --- arithmetic ------------------------------------------------------------------------------------


def test_chunking_does_not_matter() -> None:
    rng = np.random.default_rng(7)
    pcm = rng.integers(-32768, 32768, size=(10_007, 3), dtype=np.int16)
    raw = pcm.tobytes()
    whole = wf.PeakAccumulator(44_100, 3, 441)
    whole.feed(raw)
    pieces = wf.PeakAccumulator(44_100, 3, 441)
    pos = 0
    while pos < len(raw):  # odd sizes split frames and samples across chunks
        step = int(rng.integers(1, 5_000))
        pieces.feed(raw[pos : pos + step])
        pos += step
    a, b = whole.finish(), pieces.finish()
    assert np.array_equal(a.data, b.data)
    assert np.array_equal(a.data, _reference(pcm, 441))
    assert a.length == math.ceil(10_007 / 441) and pieces.frames == 10_007


def test_channel_mix_truncates_toward_zero_like_c() -> None:
    frames = np.array([[1, -2], [3, 4], [-32768, -32768], [32767, 32767], [-3, 0]], dtype=np.int16)
    acc = wf.PeakAccumulator(8_000, 2, 2)
    acc.feed(frames.tobytes())
    # (1-2)/2 = 0 in C (floor would say -1); (3+4)/2 = 3; extremes stay in range; -3/2 = -1.
    assert acc.finish().data.tolist() == [[0, 3], [-32768, 32767], [-1, -1]]


def test_eight_bit_scaling_matches_audiowaveform() -> None:
    values = np.array([-32768, -256, -255, -1, 0, 255, 256, 32767], dtype=np.int16)
    assert wf.to_8bit(values).tolist() == [-128, -1, 0, 0, 0, 0, 1, 127]


def test_samples_per_pixel_and_length() -> None:
    assert [wf.samples_per_pixel(sr, 10) for sr in (44_100, 48_000, 96_000, 22_050)] == [
        4410,
        4800,
        9600,
        2205,
    ]
    assert wf.samples_per_pixel(8_000, 1000) == 8
    assert wf.samples_per_pixel(1_000, 1000) == 2  # audiowaveform's minimum zoom
    acc = wf.PeakAccumulator(44_100, 1, 4410)
    acc.feed(np.zeros(4410 * 3 + 1, dtype=np.int16).tobytes())
    assert acc.finish().length == 4 == wf.expected_length(4410 * 3 + 1, 4410)


def test_peaks_file_is_audiowaveform_dat_v2(tmp_path: Path) -> None:
    peaks = wf.Peaks(44_100, 4410, np.array([[-5, 7], [-300, 301]], dtype=np.int16))
    path = tmp_path / "peaks.bin"
    wf.save_peaks(peaks, path)
    raw = path.read_bytes()
    assert struct.unpack_from("<iIiiIi", raw) == (2, 0, 44_100, 4410, 2, 1)
    assert struct.unpack_from("<4h", raw, 24) == (-5, 7, -300, 301)
    back = wf.load_peaks(path)
    assert (back.sample_rate, back.samples_per_pixel) == (44_100, 4410)
    assert np.array_equal(back.data, peaks.data)
    assert wf.build_waveform(path)["data"] == [0, 0, -1, 1]
    path.write_bytes(raw[:-2])
    with pytest.raises(ValueError):
        wf.load_peaks(path)


# --- from a real transcode -------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    source: Path
    result: tc.TranscodeResult
    json_path: Path
    doc: dict


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Track:
    """20.05 s of stereo 44.1 kHz music whose second half (from 10 s) is digital silence."""
    tmp = tmp_path_factory.mktemp("waveform")
    loud = make_audio(tmp / "loud.flac", duration=20.05, seed=5)
    source = transcode_file(loud, tmp / "half.flac", extra=["-af", "volume=volume=0:enable='gte(t,10)'"])
    result = tc.transcode(
        source, sample_rate=44_100, channels=2, lossless=True, bits_per_sample=16,
        duration_sec=20.05, out_dir=tmp / "out", cfg=CFG,
    )  # fmt: skip
    json_path = tmp / "out" / "waveform.json"
    doc = wf.write_waveform_json(result.out_dir / result.peaks, json_path)
    return Track(source, result, json_path, doc)


def test_waveform_json_shape(track: Track) -> None:
    doc = json.loads(track.json_path.read_text())
    assert doc == track.doc
    assert {k: doc[k] for k in ("version", "channels", "sample_rate", "samples_per_pixel", "bits")} == {
        "version": 2, "channels": 1, "sample_rate": 44_100, "samples_per_pixel": 4410, "bits": 8,
    }  # fmt: skip
    frames = round(track.result.duration_sec * 44_100)
    assert doc["length"] == math.ceil(frames / 4410) == 201
    assert abs(doc["length"] - track.result.duration_sec * PPS) <= 1
    assert len(doc["data"]) == 2 * doc["length"]
    assert all(isinstance(v, int) and -128 <= v <= 127 for v in doc["data"])
    mins, maxs = doc["data"][0::2], doc["data"][1::2]
    assert all(lo <= hi for lo, hi in zip(mins, maxs, strict=True))


def test_loud_half_has_larger_peaks_than_silent_half(track: Track) -> None:
    data = np.array(track.doc["data"]).reshape(-1, 2)
    loud, quiet = data[: 10 * PPS], data[10 * PPS + 1 :]
    assert np.abs(loud).max() > 40
    assert np.abs(loud).mean() > 10
    assert np.abs(quiet).max() == 0


def test_streamed_peaks_equal_a_batch_decode(track: Track) -> None:
    pcm = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(track.source), "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    frames = np.frombuffer(pcm, dtype="<i2").reshape(-1, 2)
    peaks = wf.load_peaks(track.result.out_dir / track.result.peaks)
    assert np.array_equal(peaks.data, _reference(frames, 4410))
    assert track.result.duration_sec == pytest.approx(len(frames) / 44_100)


def test_json_loads_in_waveform_data(track: Track) -> None:
    node = shutil.which("node")
    assert node, "node is missing: run scripts/setup.sh"
    assert (JS_DIR / "node_modules" / "waveform-data").is_dir(), "run: npm ci --prefix tests/js"
    proc = subprocess.run(
        [node, str(JS_DIR / "waveform_check.cjs"), str(track.json_path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    data = track.doc["data"]
    assert seen["length"] == track.doc["length"]
    assert (seen["channels"], seen["sample_rate"], seen["samples_per_pixel"], seen["bits"]) == (
        1,
        44_100,
        4410,
        8,
    )
    assert seen["duration"] == pytest.approx(track.doc["length"] * 4410 / 44_100)
    assert (seen["min"], seen["max"]) == (min(data[0::2]), max(data[1::2]))
    assert seen["first"] == data[:2]
    assert abs(seen["resampled_length"] - 100) <= 1  # a zoomed-out view works on the data too
