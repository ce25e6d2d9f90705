"""Chromaprint fingerprints: parsing, compact storage, alignment scoring and inverted-index keys.

Pure numpy + stdlib; the database side lives in `cadenza.ingest.fingerprint_index`.

A fingerprint is Chromaprint's raw output (algorithm 1 = TEST2, the default of both ffmpeg's
`chromaprint` muxer and `fpcalc`): one uint32 "item" per 1365 samples at 11025 Hz, i.e. about
8.08 items per second of audio. Each item packs 16 two-bit classifier outputs; a re-encode flips a
few of those bits, a different recording about 40 % of them.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_MAX_OFFSET_ITEMS",
    "DEFAULT_THRESHOLD",
    "ITEM_SEC",
    "KEY_BITS",
    "KEY_ITEMS",
    "Match",
    "compare",
    "from_bytes",
    "index_keys",
    "parse_raw",
    "to_bytes",
]

# Chromaprint's hop: frames of 4096 samples overlapping by 2/3, at its internal 11025 Hz.
ITEM_SEC = 1365 / 11025

# How far two copies may be shifted against each other (a trimmed or padded start): ±5 s.
DEFAULT_MAX_OFFSET_ITEMS = round(5 / ITEM_SEC)

# Below this many overlapping items (10 s) a score says little, unless a whole short track overlaps.
MIN_OVERLAP_ITEMS = round(10 / ITEM_SEC)
MIN_OVERLAP_FRACTION = 0.5

# Distinct recordings score about 0.56-0.60 (correlated bits, best of 81 offsets), copies 0.93-1.0.
DEFAULT_THRESHOLD = 0.75

# Index keys are the top KEY_BITS of each item of the first KEY_ITEMS items (~119 s): 24 bits keep
# most items of a lossy copy intact (the low classifiers flip most) while two different recordings
# share ~1 % of keys; 960 items bound the rows per track and keep a lookup's IN list under 999 params.
KEY_BITS = 24
KEY_ITEMS = 960

# Storage format: a version byte, then zlib of the XOR of consecutive items (neighbours share most
# bits, so this is ~35 % smaller than the plain array, which zlib cannot shrink).
_FORMAT_XOR_ZLIB = 1

# Bits set per byte value, for a numpy popcount that works on numpy < 2 (no np.bitwise_count).
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Match:
    """Best alignment of two fingerprints: `score` = 1 - bit error rate; a[i + offset] pairs with b[i]."""

    score: float
    offset: int

    @property
    def offset_sec(self) -> float:
        """The offset in seconds (positive: b starts that far into a)."""
        return self.offset * ITEM_SEC


def parse_raw(data: bytes) -> np.ndarray:
    """Items of a `-f chromaprint -fp_format raw` file: a bare uint32 array in host (little-endian) order."""
    if len(data) % 4:
        raise ValueError(f"raw fingerprint of {len(data)} bytes is not a whole number of uint32 items")
    # The muxer writes the C array as is; every host we run on is little-endian, so pin it explicitly.
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


def to_bytes(fp: np.ndarray) -> bytes:
    """Compact, portable bytes for Track.fingerprint."""
    items = _as_items(fp)
    delta = items.copy()
    delta[1:] ^= items[:-1]
    return bytes([_FORMAT_XOR_ZLIB]) + zlib.compress(delta.astype("<u4").tobytes(), 9)


def from_bytes(data: bytes) -> np.ndarray:
    """Inverse of `to_bytes`."""
    if not data or data[0] != _FORMAT_XOR_ZLIB:
        raise ValueError("not a stored fingerprint (unknown format byte)")
    raw = zlib.decompress(data[1:])
    if len(raw) % 4:
        raise ValueError("stored fingerprint is truncated")
    delta = np.frombuffer(raw, dtype="<u4").astype(np.uint32)
    # Undo the XOR delta: a running XOR over the items.
    return np.bitwise_xor.accumulate(delta) if len(delta) else delta


def compare(
    a: np.ndarray,
    b: np.ndarray,
    *,
    max_offset_items: int = DEFAULT_MAX_OFFSET_ITEMS,
    min_overlap_items: int = MIN_OVERLAP_ITEMS,
    min_overlap_fraction: float = MIN_OVERLAP_FRACTION,
) -> Match:
    """Best score over offsets in ±max_offset_items; offsets with too little overlap are not considered.

    Score 0.0 (offset 0) when no offset overlaps enough, e.g. for an empty fingerprint.
    """
    a, b = _as_items(a), _as_items(b)
    shorter = min(len(a), len(b))
    if shorter == 0:
        return Match(0.0, 0)
    # A tiny overlap can score high by chance; a short track may still match over its whole length.
    need = max(math.ceil(min_overlap_fraction * shorter), min(min_overlap_items, shorter), 1)
    best = Match(0.0, 0)
    # Nearer offsets first, so that on equal scores the smallest shift wins.
    for offset in sorted(range(-max_offset_items, max_offset_items + 1), key=lambda o: (abs(o), o)):
        x, y = (a[offset:], b) if offset >= 0 else (a, b[-offset:])
        n = min(len(x), len(y))
        if n < need:
            continue
        errors = int(_POPCOUNT8[np.bitwise_xor(x[:n], y[:n]).view(np.uint8)].sum(dtype=np.int64))
        score = 1.0 - errors / (32 * n)
        if score > best.score:
            best = Match(score, offset)
    return best


def index_keys(fp: np.ndarray) -> list[int]:
    """Sorted distinct inverted-index keys (0 <= key < 2**24, safe for a signed 32-bit column)."""
    items = _as_items(fp)[:KEY_ITEMS]
    return np.unique(items >> np.uint32(32 - KEY_BITS)).astype(np.int64).tolist()


def _as_items(fp: np.ndarray) -> np.ndarray:
    """A contiguous uint32 array; signed input (fpcalc -signed, pg_acoustid) is reinterpreted bitwise."""
    arr = np.ascontiguousarray(fp)
    if arr.ndim != 1:
        raise ValueError("a fingerprint is a one-dimensional array of items")
    if arr.dtype == np.int32:
        return arr.view(np.uint32)
    return arr.astype(np.uint32, copy=False)
