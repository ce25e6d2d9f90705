"""`cadenza royalties …`: royalty reports, rollup refresh and recount, listening statistics."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cadenza.config import get_settings
from cadenza.db.engine import engine_of
from cadenza.errors import CadenzaError

app = typer.Typer(help="Stream counts and royalty reports.", no_args_is_help=True)
console = Console(stderr=True)


def _sessions():  # type: ignore[no-untyped-def]
    from cadenza.bootstrap import build_collaborators

    return build_collaborators(get_settings()).sessions


def _rules():  # type: ignore[no-untyped-def]
    from cadenza.royalties.rules import royalty_settings

    return royalty_settings(get_settings())


@app.command()
def report(
    period: Annotated[str, typer.Option(help="The month, e.g. 2026-11.")],
    territory: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code, e.g. DE.")],
    pool: Annotated[str, typer.Option(help="Revenue to share out, e.g. 10000 or 10000.00.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. EUR.")] = "EUR",
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out: Annotated[
        Path, typer.Option(help="Folder for the report and one statement per holder; '-' prints the report.")
    ] = Path("."),
) -> None:
    """Royalty statements for a month and territory: the pool split by counted streams, then by the
    holders' stream-right shares. The same data always gives byte-identical files."""
    from cadenza.royalties import service

    if format not in ("csv", "json"):
        console.print("[red]--format must be csv or json[/red]")
        raise typer.Exit(2)
    try:
        request = service.ReportRequest.parse(
            period=period, territory=territory, pool=pool, currency=currency
        )
        result = service.make_report(_sessions(), request=request, rules=_rules())
    except CadenzaError as exc:
        console.print(f"[red]{exc.reason}[/red]")
        raise typer.Exit(2) from None
    fmt = "csv" if format == "csv" else "json"
    if str(out) == "-":
        sys.stdout.buffer.write(service.render(result, fmt)[0])
        return
    for path in service.write_files(result, fmt, out):
        console.print(str(path))
    console.print(
        f"{result.total_streams} counted streams, {result.discarded_streams} discarded, "
        f"{len(result.statements)} statements, {result.currency} {result.pool} shared"
    )


@app.command()
def refresh() -> None:
    """Fold new playback events into the daily rollups and the catalog's play counts."""
    from cadenza.royalties import rollups

    done = rollups.refresh(engine_of(_sessions()), rules=_rules())
    console.print(
        f"rebuilt {len(done.days)} day(s), recounted {done.sessions} session(s) in {done.seconds:.2f} s"
    )


@app.command()
def recompute(
    period: Annotated[str, typer.Option(help="The month (2026-11) or day (2026-11-05) to recount.")],
    workers: Annotated[int, typer.Option(help="Parallel connections (PostgreSQL).")] = 2,
) -> None:
    """Recount a month or day from the raw events (after a change of the counting rules, or an audit)."""
    from cadenza.royalties import rollups, service

    try:
        p = service.parse_period(period, allow_day=True)
    except CadenzaError as exc:
        console.print(f"[red]{exc.reason}[/red]")
        raise typer.Exit(2) from None
    done = rollups.recompute(
        engine_of(_sessions()), start=p.start, end=p.end, rules=_rules(), workers=workers
    )
    console.print(f"recounted {len(done.days)} day(s) in {done.seconds:.2f} s")


@app.command()
def stats(
    period: Annotated[str, typer.Option(help="A month (2026-11) or a day (2026-11-05).")],
    territory: Annotated[str | None, typer.Option(help="Only this territory.")] = None,
    track: Annotated[int | None, typer.Option(help="Only this track.")] = None,
) -> None:
    """Sessions, streams, discards and listening hours per track, territory, quality and tier."""
    from cadenza.royalties import service

    try:
        p = service.parse_period(period, allow_day=True)
        rows = service.playback_stats(
            _sessions(), period=p, rules=_rules(), territory=territory, track_id=track
        )
    except CadenzaError as exc:
        console.print(f"[red]{exc.reason}[/red]")
        raise typer.Exit(2) from None
    table = Table(title=f"Playback {p.label}")
    for col in ("track", "territory", "quality", "tier", "sessions", "streams", "discarded", "hours"):
        table.add_column(
            col, justify="right" if col in ("sessions", "streams", "discarded", "hours") else "left"
        )
    for r in rows:
        table.add_row(
            str(r.track_id), r.territory, r.quality, r.user_tier, str(r.sessions), str(r.streams),
            str(r.discarded), f"{r.played_ms / 3_600_000:.2f}",
        )  # fmt: skip
    Console().print(table)
