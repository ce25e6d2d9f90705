"""Loudness of tracks and releases (EBU R128 / ITU-R BS.1770-4) and the ReplayGain 2.0 figures derived
from it. The measurement itself happens during the transcode's decode (`ingest/loudness.py`); this module
keeps the arithmetic and the album rule, and imports no framework.

**Gating blocks as a histogram.** BS.1770 integrates the energy of 400 ms blocks taken every 100 ms,
dropping blocks under -70 LUFS (absolute gate) and then those more than 10 LU under the mean of the rest
(relative gate). A track keeps its blocks as a histogram in 0.1 LU bins, each bin holding the count and
the summed energy of its blocks (`Blocks`), so:

- the album's integrated loudness is the loudness of *all* the release's audio (ReplayGain 2.0's album
  rule), computed by gating the union of its tracks' blocks: the histograms are added, then gated. That is
  exact for the energy average; only the relative gate's decision for blocks within the same 0.1 LU bin
  as the threshold is approximate (a bin counts whole when its centre passes the gate);
- the blocks are ~20 bytes per occupied bin (at most 750 bins whatever the length), not one value per
  100 ms.

ReplayGain 2.0: gain = -18 LUFS - integrated loudness (dB); peak = the true peak as a linear amplitude
(1.0 = full scale). Album peak = the highest track peak.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REFERENCE_LUFS = -18.0
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
BIN_LU = 0.1
_OFFSET = -0.691  # BS.1770: loudness = -0.691 + 10·log10(weighted mean square)

# One bin of the histogram: (bin index = floor(loudness / 0.1 LU), number of blocks, summed energy).
Bin = tuple[int, int, float]


def block_energy(lufs: float) -> float:
    """The weighted mean square of a block that reads `lufs`."""
    return 10 ** ((lufs - _OFFSET) / 10)


def energy_lufs(energy: float) -> float:
    """The loudness of a weighted mean square (-inf for silence)."""
    return _OFFSET + 10 * math.log10(energy) if energy > 0 else -math.inf


@dataclass(frozen=True)
class Blocks:
    """The gating blocks of some audio, binned (see the module docstring)."""

    bins: tuple[Bin, ...]

    @classmethod
    def of(cls, block_lufs: Iterable[float]) -> Blocks:
        """Bin the momentary loudness of each 400 ms block; blocks under the absolute gate are dropped
        here (they can never count)."""
        acc: dict[int, list[float]] = {}
        for lufs in block_lufs:
            if not lufs > ABSOLUTE_GATE_LUFS:  # also drops NaN and -inf
                continue
            b = acc.setdefault(math.floor(lufs / BIN_LU), [0, 0.0])
            b[0] += 1
            b[1] += block_energy(lufs)
        return cls(tuple((k, int(v[0]), v[1]) for k, v in sorted(acc.items())))

    @classmethod
    def merge(cls, parts: Iterable[Blocks]) -> Blocks:
        """The blocks of all the parts' audio together (an album from its tracks)."""
        acc: dict[int, list[float]] = {}
        for part in parts:
            for k, n, e in part.bins:
                b = acc.setdefault(k, [0, 0.0])
                b[0] += n
                b[1] += e
        return cls(tuple((k, int(v[0]), v[1]) for k, v in sorted(acc.items())))

    def to_json(self) -> list[list[float]]:
        return [[k, n, e] for k, n, e in self.bins]

    @classmethod
    def from_json(cls, data: Sequence[Sequence[float]]) -> Blocks:
        return cls(tuple((int(k), int(n), float(e)) for k, n, e in data))

    def integrated_lufs(self) -> float | None:
        """BS.1770-4 gated loudness of these blocks; None if no block passes the absolute gate."""
        count = sum(n for _, n, _ in self.bins)
        if count == 0:
            return None
        relative = energy_lufs(sum(e for _, _, e in self.bins) / count) + RELATIVE_GATE_LU
        kept = [(n, e) for k, n, e in self.bins if (k + 0.5) * BIN_LU > relative]
        kept_n = sum(n for n, _ in kept)
        if kept_n == 0:
            return None
        return energy_lufs(sum(e for _, e in kept) / kept_n)


@dataclass(frozen=True)
class Loudness:
    """One track's measurement."""

    integrated_lufs: float | None  # None: silent (no block over -70 LUFS)
    range_lu: float
    true_peak_dbtp: float | None  # None: digital silence
    blocks: Blocks


def loudness_range(short_term_lufs: Iterable[float]) -> float:
    """EBU Tech 3342 loudness range (LU) of short-term (3 s) loudness values taken every 100 ms: values
    over -70 LUFS, then those over 20 LU under their energy mean; the 95th percentile minus the 10th
    (linear interpolation between ranks). 0 when fewer than two values pass."""
    values = sorted(v for v in short_term_lufs if v > ABSOLUTE_GATE_LUFS)
    if not values:
        return 0.0
    gate = energy_lufs(sum(block_energy(v) for v in values) / len(values)) - 20.0
    kept = [v for v in values if v > gate]
    if len(kept) < 2:
        return 0.0
    return max(_percentile(kept, 0.95) - _percentile(kept, 0.10), 0.0)


def _percentile(ordered: Sequence[float], q: float) -> float:
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def replaygain_gain(integrated_lufs: float | None) -> float | None:
    """ReplayGain 2.0 gain in dB: what brings the audio to -18 LUFS."""
    return None if integrated_lufs is None else round(REFERENCE_LUFS - integrated_lufs, 2)


def replaygain_peak(true_peak_dbtp: float | None) -> float | None:
    """ReplayGain peak: the true peak as a linear amplitude (1.0 = full scale)."""
    return None if true_peak_dbtp is None else round(10 ** (true_peak_dbtp / 20), 6)


def album(tracks: Iterable[tuple[Blocks, float | None]]) -> tuple[float | None, float | None]:
    """(integrated LUFS, true peak dBTP) of a release from its tracks' (blocks, true peak dBTP)."""
    items = list(tracks)
    lufs = Blocks.merge(b for b, _ in items).integrated_lufs()
    peaks = [p for _, p in items if p is not None]
    return lufs, max(peaks) if peaks else None
