"""Where an entry sits in a playlist: gapped integer positions, so a move writes one row.

Entries are ordered by a BIGINT `position`, unique per playlist. New entries are spaced `GAP` (2^32)
apart, and an entry moved or inserted between two neighbours takes the midpoint of their positions: one
row written, whatever the playlist's length. A gap survives 32 halvings at one spot; when two neighbours
finally sit at consecutive integers, the entries around the spot are respaced (`respace`): a window of
32 entries each side first, doubled until it holds enough room (gaps of at least `MIN_STEP`, so 16 more
halvings there), at worst the whole playlist. A respace is two UPDATE statements over the window's rows,
so even a run of moves into one spot costs a few row writes per move on average (a first window rewrites
64 rows, and the next 16 moves there write one each), and a playlist is rewritten whole only when the
gaps around a spot are spent all the way to one of its ends.

Positions stay within +-`LIMIT` (2^60): new entries at the ends of a playlist of 10,000 use 2^45 of it,
so the bound is reached only after some 2^28 inserts at one end without a respace, and then the whole
playlist is respaced. Outside that range, `SHIFT` moves a window's rows aside while it is renumbered (the
unique index is checked row by row on both databases, so rows cannot simply swap places) and `PARK`
holds the one entry being moved.

Lexicographic fractional keys (strings that always have a midpoint) would never need a respace, but they
grow with every halving at one spot, compare as strings, and need their own midpoint code; 64-bit
integers with a rare local respace are smaller, faster to compare, and easy to reason about.

Pure functions: the SQL that applies them is in `entries.py`."""

from __future__ import annotations

from dataclasses import dataclass

GAP = 2**32
LIMIT = 2**60
MIN_STEP = 2**16
SHIFT = 2**62
PARK = -(2**63) + 1
FIRST_WINDOW = 32


def between(lo: int | None, hi: int | None, count: int) -> list[int] | None:
    """`count` increasing positions strictly between `lo` and `hi` (None: that end of the playlist is
    open), or None when they do not fit and the spot must be respaced first."""
    if count < 1:
        return []
    if lo is None and hi is None:
        return [GAP * (i + 1) for i in range(count)]
    if hi is None:
        assert lo is not None
        last = lo + GAP * count
        return [lo + GAP * (i + 1) for i in range(count)] if last <= LIMIT else None
    if lo is None:
        first = hi - GAP * count
        return [first + GAP * i for i in range(count)] if first >= -LIMIT else None
    step = (hi - lo) // (count + 1)
    return [lo + step * (i + 1) for i in range(count)] if step >= 1 else None


@dataclass(frozen=True)
class Spacing:
    """A respaced window: its k-th slot (from 1) takes `base + step * k`."""

    base: int
    step: int

    def slot(self, k: int) -> int:
        return self.base + self.step * k


def respace(lo: int | None, hi: int | None, slots: int) -> Spacing | None:
    """Even spacing for `slots` entries strictly between the window's bounds `lo` and `hi` (positions of
    the entries just outside it; None when the window reaches that end), or None when the window is too
    crowded and must grow. A window that reaches both ends always fits."""
    if lo is None and hi is None:
        return Spacing(0, GAP)
    if hi is None:
        assert lo is not None
        return Spacing(lo, GAP) if lo + GAP * slots <= LIMIT else None
    if lo is None:
        base = hi - GAP * (slots + 1)
        return Spacing(base, GAP) if base >= -LIMIT else None
    step = (hi - lo) // (slots + 1)
    return Spacing(lo, step) if step >= MIN_STEP else None
