"""Royalty service functions: periods, reports and statistics from the rollups, report files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from cadenza.db.engine import engine_of
from cadenza.errors import InvalidInput, NotFound
from cadenza.rights.policy import normalize_territory
from cadenza.royalties import money, rollups, statements
from cadenza.royalties.rules import Royalties
from cadenza.royalties.statements import Period, Report

Format = Literal["csv", "json"]
_MONTH = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})")
_DAY = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})")


def parse_period(value: str, *, allow_day: bool = False) -> Period:
    """A month `2026-11` (or, where allowed, a day `2026-11-05`) as [start, end) in UTC days.

    ASCII digits only: `\\d` and `int` also read Arabic-Indic and other Unicode digits, and such a label
    then reached a file name and a Content-Disposition header, which cannot carry it (a 500). Years run
    from 0001 to 9998, so that a period's end is a date too."""
    shape = "a month like 2026-11 or a day like 2026-11-05" if allow_day else "a month like 2026-11"
    text = value.strip(" \t\r\n") if isinstance(value, str) else ""
    m = _DAY.fullmatch(text) if allow_day else None
    m = m or _MONTH.fullmatch(text)
    if m is None:
        raise InvalidInput(f"period {money.shown(value)} is not {shape}")
    year, month = int(m["year"]), int(m["month"])
    if not 1 <= month <= 12:
        raise InvalidInput(f"period {text!r} is not {shape}: the month must be 01 to 12")
    if not 1 <= year <= 9998:
        raise InvalidInput(f"period {text!r} is not {shape}: the year must be 0001 to 9998")
    if m.re is _MONTH:
        start = date(year, month, 1)
        return Period(text, start, date(year + month // 12, month % 12 + 1, 1))
    try:
        start = date(year, month, int(m["day"]))
    except ValueError:
        raise InvalidInput(f"period {text!r} is not {shape}: {text[:7]} has no day {m['day']}") from None
    return Period(text, start, start + timedelta(days=1))


def report_territory(value: str) -> str:
    code = normalize_territory(value)
    if code is None:
        raise InvalidInput("a report is for one territory, such as DE")
    return code


def royalty_report(
    session: Session,
    *,
    period: Period,
    territory: str,
    pool: Decimal,
    currency: str,
    rules: Royalties,
) -> Report:
    """The period's statements for a territory, from the daily rollups (refresh them first)."""
    return statements.build_report(
        period=period,
        territory=territory,
        currency=currency,
        pool=pool,
        usage=rollups.usage(session, territory=territory, start=period.start, end=period.end),
        rights=rollups.stream_rights(session, territory=territory, start=period.start, end=period.end),
        threshold_sec=rules.stream_threshold_sec,
        daily_cap=rules.daily_cap_per_track,
    )


@dataclass(frozen=True)
class ReportRequest:
    """A report's inputs, validated."""

    period: Period
    territory: str
    pool: Decimal
    currency: str

    @classmethod
    def parse(cls, *, period: str, territory: str, pool: str | Decimal, currency: str) -> ReportRequest:
        code = money.currency_code(currency)
        return cls(parse_period(period), report_territory(territory), money.parse_amount(pool, code), code)


def make_report(sessions: sessionmaker[Session], *, request: ReportRequest, rules: Royalties) -> Report:
    """Fold any new events into the rollups, then build the report: the same data gives the same bytes."""
    rollups.refresh(engine_of(sessions), rules=rules)
    with sessions() as s:
        return royalty_report(
            s,
            period=request.period,
            territory=request.territory,
            pool=request.pool,
            currency=request.currency,
            rules=rules,
        )


def file_stem(report: Report) -> str:
    return f"royalties-{report.period.label}-{report.territory}-{report.currency}"


def render(report: Report, fmt: Format, *, holder_id: int | None = None) -> tuple[bytes, str]:
    """The report (or one holder's statement) in `fmt`, and a file name for it."""
    if holder_id is not None and all(s.holder_id != holder_id for s in report.statements):
        raise NotFound(f"rights holder {holder_id} has no statement in this report")
    stem = file_stem(report) + ("" if holder_id is None else f"-holder-{holder_id}")
    if fmt == "csv":
        body = statements.to_csv(report) if holder_id is None else statements.statement_csv(report, holder_id)
    else:
        body = statements.to_json(report, holder_id)
    return body, f"{stem}.{fmt}"


def write_files(report: Report, fmt: Format, directory: Path) -> list[Path]:
    """The whole report plus one statement file per rights holder, written into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for holder_id in [None, *(s.holder_id for s in report.statements)]:
        body, name = render(report, fmt, holder_id=holder_id)
        path = directory / name
        path.write_bytes(body)
        written.append(path)
    return written


def playback_stats(
    sessions: sessionmaker[Session],
    *,
    period: Period,
    rules: Royalties,
    territory: str | None = None,
    track_id: int | None = None,
) -> list[rollups.StatRow]:
    rollups.refresh(engine_of(sessions), rules=rules)
    with sessions() as s:
        return rollups.stats(
            s,
            start=period.start,
            end=period.end,
            territory=normalize_territory(territory),
            track_id=track_id,
        )
