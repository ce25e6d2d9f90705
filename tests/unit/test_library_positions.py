"""Gapped positions: midpoints while a gap lasts, a respace when it is spent, bounds kept."""

from __future__ import annotations

from cadenza.library.positions import GAP, LIMIT, MIN_STEP, Spacing, between, respace


def test_new_entries_are_spaced_a_gap_apart_at_either_end() -> None:
    assert between(None, None, 3) == [GAP, 2 * GAP, 3 * GAP]
    assert between(5 * GAP, None, 2) == [6 * GAP, 7 * GAP]
    assert between(None, GAP, 2) == [-GAP, 0]


def test_between_two_neighbours_takes_evenly_spread_midpoints() -> None:
    assert between(0, 4, 1) == [2]
    assert between(0, 4, 3) == [1, 2, 3]
    assert between(0, 10, 2) == [3, 6]


def test_a_spent_gap_or_a_crowded_end_asks_for_a_respace() -> None:
    assert between(7, 8, 1) is None
    assert between(0, 3, 3) is None
    assert between(LIMIT - GAP, None, 2) is None
    assert between(None, -LIMIT + GAP, 2) is None


def test_halving_one_gap_lasts_thirty_two_moves() -> None:
    lo, hi, moves = GAP, 2 * GAP, 0
    while (fit := between(lo, hi, 1)) is not None:
        hi, moves = fit[0], moves + 1
    assert moves == 32


def test_respace_fits_a_window_or_asks_for_a_wider_one() -> None:
    assert respace(None, None, 10) == Spacing(0, GAP)
    assert respace(100, None, 10) == Spacing(100, GAP)
    assert respace(None, 100, 10) == Spacing(100 - 11 * GAP, GAP)
    assert respace(0, 64 * MIN_STEP, 63) == Spacing(0, MIN_STEP)
    assert respace(0, 64 * MIN_STEP, 64) is None  # gaps would drop below MIN_STEP: widen the window
    assert respace(LIMIT - 5 * GAP, None, 10) is None
    spacing = respace(-10, 10 * 2**20, 40)
    assert spacing is not None and all(-10 < spacing.slot(k) < 10 * 2**20 for k in range(1, 41))
