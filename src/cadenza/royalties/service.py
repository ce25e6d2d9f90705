"""Royalty service functions: periods, reports and statistics from the rollups, report files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
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
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_period(value: str, *, allow_day: bool = False) -> Period:
    """A month `2026-11` (or, where allowed, a day `2026-11-05`) as [start, end) in UTC days."""
    text = value.strip()
    try:
        if m := _MONTH.match(text):
            start = date(int(m[1]), int(m[2]), 1)
            end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            return Period(text, start, end)
        if allow_day and _DAY.match(text):
            start = date.fromisoformat(text)
            return Period(text, start, date.fromordinal(start.toordinal() + 1))
    except ValueError:
        pass
    shape = "a month like 2026-11 or a day like 2026-11-05" if allow_day else "a month like 2026-11"
    raise InvalidInput(f"period {value!r} is not {shape}")


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
