"""Royalty reports: who gets what for a month and territory, identical on PostgreSQL and SQLite, the
same bytes every run, through the service and the CLI."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from cadenza.accounts.models import User
from cadenza.catalog.models import Track, TrackStatus
from cadenza.cli.royalties import app as royalties_cli
from cadenza.config import get_settings
from cadenza.db.engine import make_session_factory
from cadenza.rights.models import RightsHolder, RightType, TrackRight
from cadenza.royalties import service
from cadenza.royalties.models import PlaybackDirtyDay, PlaybackEvent, PlaybackSession
from cadenza.royalties.rules import Royalties
from conftest import drop_schema, make_test_engine

NOV = datetime(2026, 11, 1, tzinfo=UTC)
# track: (DE streams, rights as (holder, territory, share, expires))
CATALOG = {
    "worldwide": (5, [("A", None, "100", None)]),
    "split": (3, [("A", None, "60", None), ("B", None, "40", None)]),
    "licensee": (2, [("A", None, "100", None), ("C", "DE", "50", None)]),  # 150 %: normalized
    "unlicensed": (1, []),
    "expiring": (
        2,
        [("B", "DE", "100", NOV - timedelta(days=12)), ("C", None, "100", NOV + timedelta(days=14))],
    ),
    "elsewhere": (1, [("B", "FR", "100", None)]),
    "orphan share": (2, [("A", None, "50", None), (None, None, "50", None)]),
}


def _seed(engine: Engine) -> None:
    """The same catalog, rights and plays on any database (ids in insertion order)."""
    sessions = make_session_factory(engine)
    with sessions() as s, s.begin():
        user = User(email="fan@example.org", display_name="fan", password_hash="x")
        holders = {name: RightsHolder(name=f"Label {name}") for name in "ABC"}
        s.add_all([user, *holders.values()])
        s.flush()
        rows, events = [], []
        for n, (title, (streams, rights)) in enumerate(CATALOG.items()):
            track = Track(
                title=title.title(), status=TrackStatus.ready, duration_sec=200.0, isrc=f"QZTST26{n:05d}"
            )
            s.add(track)
            s.flush()
            for holder, territory, share, expires in rights:
                s.add(
                    TrackRight(
                        track_id=track.id,
                        right_type=RightType.stream,
                        territory=territory,
                        holder_id=holders[holder].id if holder else None,
                        share_pct=Decimal(share),
                        expires_at=expires,
                    )
                )
            # DE streams this month, plus plays that must not count: FR, October, and a 20 s skip.
            plays = [("DE", 3 + i, 40) for i in range(streams)] + [
                ("FR", 2, 40),
                ("DE", -3, 40),
                ("DE", 4, 20),
            ]
            for i, (territory, day, seconds) in enumerate(plays):
                started = NOV + timedelta(days=day, hours=n, minutes=i)
                sid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{title}/{i}"))
                rows.append(
                    dict(id=sid, user_id=user.id, track_id=track.id, territory=territory, started_at=started,
                         day=started.date(), user_tier="free", quality="hls")
                )  # fmt: skip
                events.append(
                    dict(event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, sid)), session_id=sid, track_id=track.id,
                         kind="progress", seconds_played=seconds, quality="aac_256", territory=territory,
                         occurred_at=started + timedelta(seconds=seconds), received_at=started,
                         session_day=started.date(), elapsed_ms=seconds * 1000, played_ms=seconds * 1000)
                )  # fmt: skip
        s.execute(insert(PlaybackSession), rows)
        s.execute(insert(PlaybackEvent), events)
        s.execute(insert(PlaybackDirtyDay), [{"day": d} for d in sorted({r["day"] for r in rows})])


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Engine, str]]]:
    made = {b: make_test_engine(b, tmp_path_factory.mktemp(b)) for b in ("sqlite", "postgres")}
    for engine, _, _ in made.values():
        _seed(engine)
    yield {b: (engine, url) for b, (engine, url, _) in made.items()}
    for engine, _, schema in made.values():
        engine.dispose()
        if schema:
            drop_schema(schema)


def _report(engine: Engine) -> service.Report:
    request = service.ReportRequest.parse(period="2026-11", territory="DE", pool="1000", currency="EUR")
    return service.make_report(make_session_factory(engine), request=request, rules=Royalties())


def test_the_pool_goes_to_the_right_holders(engines: dict[str, tuple[Engine, str]]) -> None:
    report = _report(engines["postgres"][0])
    lines = [(line.holder_name, line.title, str(line.amount)) for line in report.lines]
    assert lines == [
        ("Label A", "Worldwide", "312.50"),
        ("Label A", "Split", "112.50"),
        ("Label A", "Licensee", "83.33"),
        ("Label A", "Orphan Share", "62.50"),
        ("Label B", "Split", "75.00"),
        ("Label C", "Licensee", "41.67"),  # 41.666…: the cent left over by rounding goes here
        ("Label C", "Expiring", "125.00"),  # live in November until the 15th; the DE right expired in October
        (None, "Unlicensed", "62.50"),
        (None, "Elsewhere", "62.50"),  # only an FR right
        (None, "Orphan Share", "62.50"),  # the half of the shares that names no holder
    ]
    assert [(s.holder_name, str(s.total)) for s in report.statements] == [
        ("Label A", "570.83"),
        ("Label B", "75.00"),
        ("Label C", "166.67"),
    ]
    assert sum(line.amount for line in report.lines) == Decimal("1000.00")
    assert report.total_streams == 16
    assert [a.recorded_total_pct for a in report.share_adjustments] == [Decimal("150.00")]


def test_postgresql_and_sqlite_write_the_same_bytes_every_time(
    engines: dict[str, tuple[Engine, str]],
) -> None:
    outputs = set()
    for engine, _ in engines.values():
        for _ in range(2):
            report = _report(engine)
            outputs.add((service.render(report, "csv")[0], service.render(report, "json")[0]))
    assert len(outputs) == 1
    csv_bytes, json_bytes = outputs.pop()
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode())))
    assert len(rows) == 10 and rows[0]["isrc"] == "QZTST2600000" and rows[0]["stream_share"] == "0.31250000"
    doc = json.loads(json_bytes)
    assert doc["unallocated"]["total"] == "187.50" and doc["total_streams"] == 16


def test_cli_writes_a_report_and_one_statement_per_holder(
    engines: dict[str, tuple[Engine, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENZA_DATABASE_URL", engines["sqlite"][1])
    monkeypatch.setenv("CADENZA_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        args = ["report", "--period", "2026-11", "--territory", "DE", "--pool", "1000", "--currency", "EUR"]
        written = {}
        for fmt in ("csv", "json"):
            for run in ("first", "second"):
                out = tmp_path / run
                result = runner.invoke(royalties_cli, [*args, "--format", fmt, "--out", str(out)])
                assert result.exit_code == 0, result.output
                written[run] = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == f".{fmt}"}
            assert written["first"] == written["second"]
            assert sorted(written["first"]) == [
                f"royalties-2026-11-DE-EUR-holder-{h}.{fmt}" for h in (1, 2, 3)
            ] + [f"royalties-2026-11-DE-EUR.{fmt}"]
        holder_b = written["first"]["royalties-2026-11-DE-EUR-holder-2.json"]
        assert [s["total"] for s in json.loads(holder_b)["statements"]] == ["75.00"]
        printed = runner.invoke(royalties_cli, [*args, "--out", "-"])
        assert printed.exit_code == 0 and printed.stdout.startswith("period,territory,currency")
        bad = runner.invoke(
            royalties_cli, ["report", "--period", "2026-13", "--territory", "DE", "--pool", "1"]
        )
        assert bad.exit_code == 2 and "not a month" in bad.output
    finally:
        get_settings.cache_clear()
