"""Royalty maths: minor units, largest-remainder rounding, statements that add up to the pool exactly."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza.errors import InvalidInput
from cadenza.royalties import money, statements
from cadenza.royalties.statements import Period, RightShare, TrackUsage

NOV = Period("2026-11", date(2026, 11, 1), date(2026, 12, 1))


def test_minor_units_follow_the_currency() -> None:
    assert money.parse_amount("10000", "EUR") == Decimal("10000.00")
    assert str(money.parse_amount("10000", "EUR")) == "10000.00"
    assert str(money.parse_amount("150", "JPY")) == "150"
    assert str(money.parse_amount("1.5", "KWD")) == "1.500"
    with pytest.raises(InvalidInput, match="2 decimal places"):
        money.parse_amount("0.001", "EUR")
    with pytest.raises(InvalidInput, match="at least 0"):
        money.parse_amount("-5", "EUR")
    with pytest.raises(InvalidInput, match="not a number"):
        money.parse_amount("ten", "EUR")
    with pytest.raises(InvalidInput, match="ISO 4217"):
        money.currency_code("euro")
    assert money.currency_code(" eur ") == "EUR"


def test_largest_remainder_gives_leftover_units_to_the_largest_remainders() -> None:
    assert money.largest_remainder(100, [1, 1, 1]) == [34, 33, 33]  # a tie: the earlier part
    assert money.largest_remainder(10, [Fraction(1, 6), Fraction(1, 3), Fraction(1, 2)]) == [2, 3, 5]
    assert money.largest_remainder(7, [0, 1]) == [0, 7]
    assert money.largest_remainder(0, [3, 4]) == [0, 0]
    with pytest.raises(ValueError):
        money.largest_remainder(5, [0, 0])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12), st.lists(st.integers(0, 10**6), min_size=1, max_size=40).filter(any))
def test_largest_remainder_always_adds_up_and_stays_within_one_unit(total: int, weights: list[int]) -> None:
    parts = money.largest_remainder(total, weights)
    assert sum(parts) == total
    for part, w in zip(parts, weights, strict=True):
        exact = Fraction(total * w, sum(weights))
        assert exact - 1 < part < exact + 1


def _usage(track: int, streams: int, discarded: int = 0) -> TrackUsage:
    return TrackUsage(track, f"Track {track}", None, streams, discarded)


def _right(track: int, holder: int | None, pct: str) -> RightShare:
    return RightShare(track, holder, None if holder is None else f"Label {holder}", Decimal(pct))


def _report(usage: list[TrackUsage], rights: list[RightShare], pool: str = "10000") -> statements.Report:
    return statements.build_report(
        period=NOV,
        territory="DE",
        currency="EUR",
        pool=money.parse_amount(pool, "EUR"),
        usage=usage,
        rights=rights,
        threshold_sec=30.0,
        daily_cap=10,
    )


def test_the_pool_is_split_by_streams_then_by_share() -> None:
    report = _report(
        [_usage(1, 3), _usage(2, 1, discarded=4), _usage(3, 0, discarded=2)],
        [_right(1, 10, "70"), _right(1, 11, "30"), _right(2, 11, "100")],
    )
    amounts = {(line.holder_id, line.track_id): line.amount for line in report.lines}
    assert amounts == {
        (10, 1): Decimal("5250.00"),  # 3/4 of the pool x 70 %
        (11, 1): Decimal("2250.00"),
        (11, 2): Decimal("2500.00"),
    }
    assert [(s.holder_id, s.total) for s in report.statements] == [
        (10, Decimal("5250.00")),
        (11, Decimal("4750.00")),
    ]
    assert report.total_streams == 4 and report.discarded_streams == 6
    assert [u.track_id for u in report.discarded] == [2, 3]
    assert not report.unallocated and not report.share_adjustments


def test_shares_that_do_not_add_up_are_normalized_and_listed() -> None:
    # A worldwide right (100 %) and a DE licensee (50 %): in DE they share 2:1.
    report = _report([_usage(1, 2)], [_right(1, 10, "100"), _right(1, 20, "50")], pool="300")
    assert {line.holder_id: line.amount for line in report.lines} == {
        10: Decimal("200.00"),
        20: Decimal("100.00"),
    }
    assert [(a.track_id, a.recorded_total_pct) for a in report.share_adjustments] == [(1, Decimal("150.00"))]
    # One holder with 60 % and nobody else: normalized to all of it.
    report = _report([_usage(1, 2)], [_right(1, 10, "60")], pool="300")
    assert report.lines[0].amount == Decimal("300.00") and report.lines[0].effective_share == 1


def test_money_without_a_holder_stays_unallocated() -> None:
    report = _report([_usage(1, 1), _usage(2, 1)], [_right(1, 10, "50"), _right(1, None, "50")], pool="100")
    assert [(line.holder_id, line.track_id, line.amount) for line in report.lines] == [
        (10, 1, Decimal("25.00")),
        (None, 1, Decimal("25.00")),  # the half whose right names no holder
        (None, 2, Decimal("50.00")),  # no stream right in the territory at all
    ]
    nothing = _report([], [], pool="100")
    assert [(line.track_id, line.amount) for line in nothing.lines] == [(None, Decimal("100.00"))]


def test_rounding_thirds_adds_up_to_the_cent() -> None:
    report = _report([_usage(1, 1), _usage(2, 1), _usage(3, 1)], [_right(t, t, "100") for t in (1, 2, 3)])
    assert [line.amount for line in report.lines] == [
        Decimal("3333.34"),
        Decimal("3333.33"),
        Decimal("3333.33"),
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 10**9).map(lambda cents: str(Decimal(cents) / 100)),
    st.lists(
        st.tuples(
            st.integers(0, 5000),
            st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 6)), st.integers(1, 10000)), max_size=4),
        ),
        max_size=15,
    ),
)
def test_every_report_adds_up_to_the_pool_exactly(pool: str, tracks: list) -> None:  # type: ignore[type-arg]
    usage = [_usage(i + 1, streams) for i, (streams, _) in enumerate(tracks)]
    rights = [
        _right(i + 1, holder, str(Decimal(pct) / 100))
        for i, (_, held) in enumerate(tracks)
        for holder, pct in held
    ]
    report = _report(usage, rights, pool=pool)
    assert sum(line.amount for line in report.lines) == money.parse_amount(pool, "EUR")
    assert sum(s.total for s in report.statements) + sum(u.amount for u in report.unallocated) == report.pool
    for line in report.lines:
        assert line.amount >= 0 and line.amount == line.amount.quantize(Decimal("0.01"))


def test_files_are_deterministic_and_readable() -> None:
    usage = [_usage(1, 3), _usage(2, 1)]
    rights = [_right(1, 10, "70"), _right(1, 11, "30"), _right(2, 11, "100")]
    first, second = _report(usage, rights), _report(list(reversed(usage)), list(reversed(rights)))
    assert statements.to_csv(first) == statements.to_csv(second)
    assert statements.to_json(first) == statements.to_json(second)
    rows = list(csv.DictReader(io.StringIO(statements.to_csv(first).decode())))
    assert list(rows[0]) == list(statements.CSV_HEADER)
    assert [(r["holder_id"], r["track_id"], r["amount"]) for r in rows] == [
        ("10", "1", "5250.00"),
        ("11", "1", "2250.00"),
        ("11", "2", "2500.00"),
    ]
    assert rows[0]["effective_share_pct"] == "70.00000000" and rows[0]["stream_share"] == "0.75000000"
    doc = json.loads(statements.to_json(first))
    assert doc["pool"] == "10000.00" and doc["statements"][1]["total"] == "4750.00"
    own = json.loads(statements.to_json(first, holder_id=11))
    assert [s["holder_id"] for s in own["statements"]] == [11] and "unallocated" not in own
    holder_csv = statements.statement_csv(first, 10).decode().splitlines()
    assert len(holder_csv) == 2 and holder_csv[1].startswith("2026-11,DE,EUR,10,Label 10,1,")
