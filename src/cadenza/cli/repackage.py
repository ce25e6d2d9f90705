"""`cadenza repackage`: bring published tracks to the current packaging (ingest/repackage.py)."""

from __future__ import annotations

import collections
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console()


def repackage(
    track_ids: Annotated[
        list[int] | None, typer.Argument(help="Track ids (or --all).", show_default=False)
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every ready track.")] = False,
) -> None:
    """Re-package ready tracks as CMAF for HLS and DASH (and encrypted when protected) from their
    published media, re-encoding nothing lossy. Tracks already current are skipped, so an interrupted
    run resumes where it stopped."""
    from cadenza.bootstrap import build_collaborators
    from cadenza.config import get_settings
    from cadenza.ingest import repackage as rp

    if all_ == bool(track_ids):
        console.print("[red]name track ids or --all (not both)[/red]")
        raise typer.Exit(2)
    c = build_collaborators(get_settings())
    todo = rp.candidates(c, track_ids=None if all_ else track_ids)
    started = time.monotonic()
    outcomes: list[rp.Outcome] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("repackaging", total=len(todo))
        for tid in todo:
            outcomes.append(rp.repackage_track(c, track_id=tid))
            progress.advance(bar)
    counts = collections.Counter(o.action for o in outcomes)
    for o in outcomes:
        if o.error:
            console.print(f"[red]track {o.track_id}: {o.error}[/red]")
    summary = "  ".join(f"{k}: {counts[k]}" for k in ("current", "copied", "remuxed", "reencoded", "failed"))
    console.print(f"tracks: {len(outcomes)}  {summary}  time: {time.monotonic() - started:.1f} s")
    if counts["failed"]:
        raise typer.Exit(1)
