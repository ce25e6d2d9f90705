"""`cadenza reprocess`: run the analyses existing tracks are missing (ingest/reprocess.py)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()


def reprocess(
    track_ids: Annotated[
        list[int] | None, typer.Argument(help="Track ids (or --all).", show_default=False)
    ] = None,
    only: Annotated[str, typer.Option(help="Analyses to run where missing: loudness,lyrics,artwork.")] = (
        "loudness,lyrics,artwork"
    ),
    all_: Annotated[bool, typer.Option("--all", help="Every ready track.")] = False,
    queue: Annotated[
        bool,
        typer.Option(help="Queue the tracks on Celery (queue cadenza-analysis) instead of running here."),
    ] = False,
) -> None:
    """Run only the missing analyses on ready tracks, from their stored audio (decoded once, nothing
    encoded again). Tracks that already have them are skipped, so an interrupted run resumes."""
    from cadenza.bootstrap import build_collaborators
    from cadenza.config import get_settings
    from cadenza.ingest import reprocess as rp

    try:
        analyses = rp.parse_only(only)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if all_ == bool(track_ids):
        console.print("[red]name track ids or --all (not both)[/red]")
        raise typer.Exit(2)
    settings = get_settings()
    c = build_collaborators(settings)
    todo = rp.candidates(c, only=analyses, track_ids=None if all_ else track_ids)
    if queue:
        if not settings.broker_url:
            console.print("[red]CADENZA_BROKER_URL is not set: run without --queue[/red]")
            raise typer.Exit(2)
        from cadenza.ingest.queue import make_celery

        app = make_celery()
        for tid in todo:
            app.send_task(rp.TASK_NAME, args=(tid, list(analyses)), queue=rp.QUEUE)
        console.print(f"queued {len(todo)} tracks on {rp.QUEUE}")
        return
    started = time.monotonic()
    outcomes: list[rp.Outcome] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(f"reprocessing ({', '.join(analyses)})", total=len(todo))
        for tid in todo:
            outcomes.append(rp.reprocess_track(c, track_id=tid, only=analyses))
            progress.advance(bar)
    elapsed = time.monotonic() - started
    failed = [o for o in outcomes if o.error]
    table = Table(title="Reprocess summary")
    for col in ("analysis", "tracks done"):
        table.add_column(col)
    for name in analyses:
        table.add_row(name, str(sum(name in o.done for o in outcomes)))
    console.print(table)
    for o in failed:
        console.print(f"[red]track {o.track_id}: {o.error}[/red]")
    audio = sum(o.audio_sec for o in outcomes)
    speed = f"  audio decoded: {audio:.0f} s ({audio / elapsed:.0f}x real time)" if audio and elapsed else ""
    skipped = (len(track_ids) - len(todo)) if track_ids else 0
    console.print(
        f"tracks: {len(outcomes)}  failed: {len(failed)}  already complete: {skipped}  "
        f"time: {elapsed:.1f} s{speed}"
    )
    if failed:
        raise typer.Exit(2)
