"""Loudness measured by the transcode's tap, cross-checked against pyloudnorm (an independent
ITU-R BS.1770-4 implementation) on generated signals, and the album rule of `catalog/loudness.py`."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from cadenza.catalog import loudness as rg
from cadenza.config import Ingest
from cadenza.ingest import loudness as ld
from cadenza.ingest import transcode as tc

RATE = 48_000


def _write(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """Float samples (frames x channels) into a 24-bit FLAC."""
    channels = samples.shape[1]
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(rate),
         "-ac", str(channels), "-i", "pipe:0", "-c:a", "flac", "-sample_fmt", "s32", str(path)],
        input=samples.astype("<f4").tobytes(), check=True,
    )  # fmt: skip
    return path


def _decoded(path: Path, channels: int) -> np.ndarray:
    """The file as a client decodes it, for the reference implementation."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "f64le", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype="<f8").reshape(-1, channels)


def _measure(tmp: Path, samples: np.ndarray, rate: int = RATE) -> tuple[rg.Loudness, float]:
    """(our measurement through the transcode, pyloudnorm's integrated loudness of the same file)."""
    source = _write(tmp / "src.flac", samples, rate)
    result = tc.transcode(
        source,
        sample_rate=rate,
        channels=samples.shape[1],
        lossless=True,
        bits_per_sample=24,
        duration_sec=len(samples) / rate,
        out_dir=tmp / "out",
        cfg=Ingest(aac_bitrates_kbps=[128]),
    )
    assert result.loudness is not None
    ours = tc.load_loudness(result.out_dir / result.loudness)
    reference = pyloudnorm.Meter(rate).integrated_loudness(_decoded(source, samples.shape[1]))
    return ours, reference


def _sine(freq: float, dbfs: float, seconds: float, channels: int = 2, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)
    return np.repeat(wave[:, None], channels, axis=1)


def _pink(seconds: float, dbfs_rms: float, seed: int, channels: int = 2) -> np.ndarray:
    """Pink noise (1/f power) by shaping white noise's spectrum, scaled to an RMS level."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal((channels, n)), axis=1)
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    noise = np.fft.irfft(spectrum / np.sqrt(f), n=n, axis=1).T
    return noise * (10 ** (dbfs_rms / 20) / np.sqrt(np.mean(noise**2)))


def test_ebu_reference_tone_reads_minus_23(tmp_path: Path) -> None:
    """EBU Tech 3341's first case: a 1 kHz stereo sine at -23 dBFS per channel reads -23.0 LUFS."""
    ours, reference = _measure(tmp_path, _sine(1000, -23.0, 20))
    assert ours.integrated_lufs == pytest.approx(-23.0, abs=0.1)
    assert ours.integrated_lufs == pytest.approx(reference, abs=0.1)
    assert ours.range_lu == pytest.approx(0.0, abs=0.1)
    assert ours.true_peak_dbtp == pytest.approx(-23.0, abs=0.1)
    assert rg.replaygain_gain(ours.integrated_lufs) == pytest.approx(5.0, abs=0.1)


@pytest.mark.parametrize(
    ("name", "signal"),
    [
        ("pink noise at -20 dBFS RMS", lambda: _pink(15, -20.0, seed=1)),
        ("quiet mono 100 Hz sine", lambda: _sine(100, -35.0, 12, channels=1)),
        ("loud 5 kHz sine", lambda: _sine(5000, -3.0, 10)),
        # tone, near-silence, quieter tone: the gates decide what counts
        (
            "gated sections",
            lambda: np.concatenate(
                [_sine(440, -12.0, 8), _sine(440, -80.0, 6), _pink(8, -30.0, seed=2), _sine(880, -26.0, 6)]
            ),
        ),
    ],
)
def test_integrated_loudness_agrees_with_pyloudnorm(tmp_path: Path, name: str, signal) -> None:  # type: ignore[no-untyped-def]
    ours, reference = _measure(tmp_path, signal())
    assert ours.integrated_lufs is not None
    assert abs(ours.integrated_lufs - reference) <= 0.1, name


def test_true_peak_sees_between_samples(tmp_path: Path) -> None:
    """A sine at a quarter of the rate, sampled 45° off its crests: every sample is 3 dB under the true
    peak, which ebur128's oversampling finds. Faded in and out: an abrupt start rings over the peak."""
    t = np.arange(RATE * 5)
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / (RATE * 0.5))
    wave = 0.5 * np.sin(2 * np.pi * t / 4 + np.pi / 4) * fade
    ours, _ = _measure(tmp_path, np.stack([wave, wave], axis=1))
    sample_peak_db = 20 * math.log10(np.max(np.abs(wave)))
    assert sample_peak_db == pytest.approx(20 * math.log10(0.5) - 3.01, abs=0.01)
    assert ours.true_peak_dbtp == pytest.approx(20 * math.log10(0.5), abs=0.2)


def test_silence_has_no_loudness(tmp_path: Path) -> None:
    ours, _ = _measure(tmp_path, np.zeros((RATE * 3, 2)))
    assert ours.integrated_lufs is None and ours.true_peak_dbtp is None
    assert rg.replaygain_gain(None) is None


def test_album_is_the_loudness_of_all_its_audio(tmp_path: Path) -> None:
    """Album gain: the gated loudness of the tracks' audio together, as pyloudnorm reads the
    concatenation, not the mean of the track figures. (pyloudnorm's blocks straddling the join belong to
    neither track: at most 3 of ~300, which is why the loud track is 30 s long.)"""
    loud, quiet = _sine(1000, -10.0, 30), _pink(20, -35.0, seed=4)
    a, _ = _measure(tmp_path / "a", loud)
    b, _ = _measure(tmp_path / "b", quiet)
    album_lufs, album_peak = rg.album([(a.blocks, a.true_peak_dbtp), (b.blocks, b.true_peak_dbtp)])
    together = pyloudnorm.Meter(RATE).integrated_loudness(np.concatenate([loud, quiet]))
    assert album_lufs is not None and abs(album_lufs - together) <= 0.1
    assert album_peak == a.true_peak_dbtp
    # far from the mean of the two track figures
    assert abs(album_lufs - (a.integrated_lufs + b.integrated_lufs) / 2) > 5  # type: ignore[operator]


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()


def test_gating_from_the_histogram() -> None:
    """BS.1770's two gates on block loudness values: -70 absolute, -10 LU relative."""
    blocks = rg.Blocks.of([-20.0] * 10 + [-75.0] * 100 + [-40.0] * 10)
    assert blocks.integrated_lufs() == pytest.approx(-20.0, abs=0.05)  # -40 is under -20-3-10
    assert rg.Blocks.of([-80.0, float("-inf")]).integrated_lufs() is None
    merged = rg.Blocks.merge([rg.Blocks.of([-20.0] * 10), rg.Blocks.of([-26.0] * 10)])
    expected = rg.energy_lufs((rg.block_energy(-20.0) + rg.block_energy(-26.0)) / 2)
    assert merged.integrated_lufs() == pytest.approx(expected, abs=1e-9)
    assert rg.Blocks.from_json(merged.to_json()) == merged
    assert rg.replaygain_peak(0.0) == 1.0 and rg.replaygain_peak(-6.02) == pytest.approx(0.5, abs=1e-3)


def _ffmpeg_lra(path: Path) -> float:
    """ffmpeg's own loudness range of a file at its real level (its histogram covers -70..+10 LUFS)."""
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-af",
         "ebur128=metadata=1,ametadata=mode=print:key=lavfi.r128.LRA:file=-", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float([line for line in out.splitlines() if line.startswith("lavfi.r128.LRA=")][-1].split("=")[1])


@pytest.mark.parametrize(
    ("name", "signal", "expected"),
    [
        (
            "two plateaus 10 dB apart",
            lambda: np.concatenate([_sine(1000, -20.0, 12), _sine(1000, -30.0, 12)]),
            10.0,
        ),
        ("loud pink noise", lambda: _pink(15, -8.0, seed=7), None),
        ("steady tone", lambda: _sine(1000, -3.0, 10), 0.0),
    ],
)
def test_loudness_range_agrees_with_ffmpegs_own(tmp_path: Path, name: str, signal, expected) -> None:  # type: ignore[no-untyped-def]
    """EBU Tech 3342 loudness range, computed from ebur128's short-term values, against ebur128's own LRA
    of the same file at its real level (the loud signals are over the +10 LUFS a boosted level would
    reach in ffmpeg's histogram: the reason it is computed here)."""
    ours, _ = _measure(tmp_path, signal())
    assert abs(ours.range_lu - _ffmpeg_lra(tmp_path / "src.flac")) <= 0.1, name
    if expected is not None:
        assert ours.range_lu == pytest.approx(expected, abs=0.2), name


def test_a_measurement_on_its_own_reads_as_the_transcodes_tap(tmp_path: Path) -> None:
    """`cadenza reprocess` measures with one decode and no encoder; same filters, same figures. The
    scratch folder's name holds every character ffmpeg's filtergraph syntax treats specially."""
    tap, _ = _measure(tmp_path, _pink(6, -18.0, seed=9))
    alone = ld.measure(tmp_path / "src.flac", scratch=tmp_path / "we:ird,na'me[x];y\\z", timeout=60)
    assert alone == tap
