"""Royalty statements in plain Python: a revenue pool split pro rata by counted streams, then between the
holders of each track's stream right by their shares; rendered as CSV and JSON, byte for byte the same
for the same inputs.

The pool of a period and territory is divided over (holder, track) lines: a track's part is
pool x its counted streams / all counted streams; a holder's part of that is their share / the sum of
the shares of all live stream rights of the track in the territory (so shares that do not add up to 100
are normalized, and listed under `share_adjustments`). A track with no such right, or the part of a
right that names no holder, goes to an `unallocated` line. Amounts are exact fractions until the end,
then rounded to the currency's minor unit by largest remainders over all lines at once, so the lines
add up to the pool exactly."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from cadenza.royalties import money

_PLACES = Decimal("0.00000001")


@dataclass(frozen=True)
class Period:
    """A calendar month, [start, end) in UTC days."""

    label: str
    start: date
    end: date


@dataclass(frozen=True)
class TrackUsage:
    track_id: int
    title: str
    isrc: str | None
    streams: int
    discarded: int


@dataclass(frozen=True)
class RightShare:
    """One live `stream` right of a track in the territory (worldwide or for it)."""

    track_id: int
    holder_id: int | None
    holder_name: str | None
    share_pct: Decimal


@dataclass(frozen=True)
class Line:
    holder_id: int | None
    holder_name: str | None
    track_id: int | None
    title: str | None
    isrc: str | None
    streams: int
    discarded: int
    stream_share: Fraction
    share_pct: Decimal | None  # as recorded (summed over the holder's rights on the track)
    effective_share: Fraction  # of the track's part, after normalization
    amount: Decimal


@dataclass(frozen=True)
class Statement:
    holder_id: int
    holder_name: str
    total: Decimal
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class ShareAdjustment:
    track_id: int
    recorded_total_pct: Decimal


@dataclass(frozen=True)
class Report:
    period: Period
    territory: str
    currency: str
    pool: Decimal
    threshold_sec: float
    daily_cap: int
    total_streams: int
    discarded_streams: int
    statements: tuple[Statement, ...]
    unallocated: tuple[Line, ...]
    share_adjustments: tuple[ShareAdjustment, ...]
    discarded: tuple[TrackUsage, ...]

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(line for s in self.statements for line in s.lines) + self.unallocated


@dataclass
class _Draft:
    holder_id: int | None
    holder_name: str | None
    usage: TrackUsage | None
    weight: Fraction
    stream_share: Fraction
    share_pct: Decimal | None
    effective: Fraction


def build_report(
    *,
    period: Period,
    territory: str,
    currency: str,
    pool: Decimal,
    usage: Iterable[TrackUsage],
    rights: Iterable[RightShare],
    threshold_sec: float,
    daily_cap: int,
) -> Report:
    """Split `pool` over the tracks' counted streams and their stream-right holders (see the module doc)."""
    tracks = sorted(usage, key=lambda u: u.track_id)
    streamed = [u for u in tracks if u.streams > 0]
    total = sum(u.streams for u in streamed)
    by_track: dict[int, list[RightShare]] = defaultdict(list)
    for r in rights:
        by_track[r.track_id].append(r)
    drafts: list[_Draft] = []
    adjustments: list[ShareAdjustment] = []
    for u in streamed:
        track_part = Fraction(u.streams, total)
        held = by_track.get(u.track_id, [])
        recorded = sum((r.share_pct for r in held), Decimal(0))
        if not held:
            drafts.append(_Draft(None, None, u, track_part, track_part, None, Fraction(1)))
            continue
        if recorded != 100:
            adjustments.append(ShareAdjustment(u.track_id, recorded))
        shares: dict[int | None, Decimal] = defaultdict(Decimal)
        names: dict[int | None, str | None] = {}
        for r in held:
            shares[r.holder_id] += r.share_pct
            names[r.holder_id] = r.holder_name
        for holder_id, pct in shares.items():
            effective = Fraction(pct) / Fraction(recorded)
            drafts.append(
                _Draft(holder_id, names[holder_id], u, track_part * effective, track_part, pct, effective)
            )
    if not drafts:  # nothing was streamed: the whole pool stays unallocated
        drafts.append(_Draft(None, None, None, Fraction(1), Fraction(0), None, Fraction(1)))
    drafts.sort(key=lambda d: (d.holder_id is None, d.holder_id or 0, d.usage.track_id if d.usage else 0))
    units = money.largest_remainder(money.to_units(pool, currency), [d.weight for d in drafts])
    lines = [_line(d, money.from_units(n, currency)) for d, n in zip(drafts, units, strict=True)]
    statements: list[Statement] = []
    for holder_id in sorted({line.holder_id for line in lines if line.holder_id is not None}):
        own = tuple(line for line in lines if line.holder_id == holder_id)
        name = own[0].holder_name or f"holder {holder_id}"
        total_amount = sum((line.amount for line in own), money.from_units(0, currency))
        statements.append(Statement(holder_id, name, total_amount, own))
    return Report(
        period=period,
        territory=territory,
        currency=currency,
        pool=pool,
        threshold_sec=threshold_sec,
        daily_cap=daily_cap,
        total_streams=total,
        discarded_streams=sum(u.discarded for u in tracks),
        statements=tuple(statements),
        unallocated=tuple(line for line in lines if line.holder_id is None),
        share_adjustments=tuple(adjustments),
        discarded=tuple(u for u in tracks if u.discarded > 0),
    )


def _line(d: _Draft, amount: Decimal) -> Line:
    u = d.usage
    return Line(
        holder_id=d.holder_id,
        holder_name=d.holder_name,
        track_id=u.track_id if u else None,
        title=u.title if u else None,
        isrc=u.isrc if u else None,
        streams=u.streams if u else 0,
        discarded=u.discarded if u else 0,
        stream_share=d.stream_share,
        share_pct=d.share_pct,
        effective_share=d.effective,
        amount=amount,
    )


def _decimal(f: Fraction, scale: int = 1) -> str:
    """A fraction shown with 8 decimal places (display only: amounts are computed exactly)."""
    value = Decimal(f.numerator * scale) / Decimal(f.denominator)
    return str(value.quantize(_PLACES, rounding=ROUND_HALF_EVEN))


CSV_HEADER = (
    "period", "territory", "currency", "holder_id", "holder_name", "track_id", "isrc", "title", "streams",
    "discarded_streams", "stream_share", "share_pct", "effective_share_pct", "amount",
)  # fmt: skip


def _row(report: Report, line: Line) -> list[str]:
    return [
        report.period.label,
        report.territory,
        report.currency,
        "" if line.holder_id is None else str(line.holder_id),
        line.holder_name or ("" if line.holder_id is None else f"holder {line.holder_id}"),
        "" if line.track_id is None else str(line.track_id),
        line.isrc or "",
        line.title or "",
        str(line.streams),
        str(line.discarded),
        _decimal(line.stream_share),
        "" if line.share_pct is None else str(line.share_pct),
        _decimal(line.effective_share, 100),
        str(line.amount),
    ]


def to_csv(report: Report, lines: Sequence[Line] | None = None) -> bytes:
    """One row per (holder, track) line, holders first then unallocated; a header row; UTF-8, LF."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in report.lines if lines is None else lines:
        writer.writerow(_row(report, line))
    return out.getvalue().encode()


def _line_json(line: Line) -> dict[str, object]:
    return {
        "track_id": line.track_id,
        "isrc": line.isrc,
        "title": line.title,
        "streams": line.streams,
        "discarded_streams": line.discarded,
        "stream_share": _decimal(line.stream_share),
        "share_pct": None if line.share_pct is None else str(line.share_pct),
        "effective_share_pct": _decimal(line.effective_share, 100),
        "amount": str(line.amount),
    }


def to_json(report: Report, holder_id: int | None = None) -> bytes:
    """The whole report (or one holder's statement) as indented JSON; amounts are decimal strings."""
    statements = [s for s in report.statements if holder_id is None or s.holder_id == holder_id]
    doc: dict[str, object] = {
        "period": report.period.label,
        "period_start": report.period.start.isoformat(),
        "period_end": report.period.end.isoformat(),
        "territory": report.territory,
        "currency": report.currency,
        "pool": str(report.pool),
        "rules": {
            "stream_threshold_sec": report.threshold_sec,
            "daily_cap_per_listener_and_track": report.daily_cap,
            "allocation": "pro rata by counted streams, then by stream-right share (normalized)",
        },
        "total_streams": report.total_streams,
        "discarded_streams": report.discarded_streams,
        "statements": [
            {
                "holder_id": s.holder_id,
                "holder_name": s.holder_name,
                "total": str(s.total),
                "lines": [_line_json(line) for line in s.lines],
            }
            for s in statements
        ],
    }
    if holder_id is None:
        doc["unallocated"] = {
            "total": str(
                sum((line.amount for line in report.unallocated), money.from_units(0, report.currency))
            ),
            "lines": [_line_json(line) for line in report.unallocated],
        }
        doc["share_adjustments"] = [
            {"track_id": a.track_id, "recorded_total_pct": str(a.recorded_total_pct), "normalized_to": "100"}
            for a in report.share_adjustments
        ]
        doc["discarded"] = [
            {"track_id": u.track_id, "title": u.title, "discarded_streams": u.discarded}
            for u in report.discarded
        ]
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def statement_csv(report: Report, holder_id: int) -> bytes:
    """One holder's statement as CSV."""
    return to_csv(report, [line for line in report.lines if line.holder_id == holder_id])
