"""`cadenza storage …`: the object store's housekeeping (gc: objects no row references)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cadenza.config import get_settings

app = typer.Typer(help="The object store: find and remove objects nothing references.", no_args_is_help=True)
console = Console()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


@app.command()
def gc(
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete the orphans (default: only report them).")
    ] = False,
    grace_hours: Annotated[
        float,
        typer.Option(min=0.0, help="Keep objects modified more recently than this (ingest in progress)."),
    ] = 24.0,
    show: Annotated[int, typer.Option(min=0, help="List up to this many orphan keys.")] = 20,
) -> None:
    """Find objects in the store that no track, upload or artwork references; with --apply, delete them.

    Safe while ingest runs: objects younger than the grace period and everything of a track still
    processing are kept (src/cadenza/ingest/orphans.py explains why that suffices)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from cadenza.bootstrap import build_collaborators
    from cadenza.ingest import orphans

    c = build_collaborators(get_settings())
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("listing the store", total=None)
        report = orphans.collect(
            c.store,
            c.sessions,
            apply=apply,
            grace_sec=grace_hours * 3600,
            on_progress=lambda n: bar.update(task, description=f"listed {n:,} objects"),
        )
    title = "storage gc: " + ("orphans deleted" if apply else "dry run (nothing deleted; --apply to delete)")
    table = Table(title=title)
    for col in ("kind", "objects", "size", "referenced", "kept: young", "kept: processing", "orphans",
                "orphan size", "deleted"):  # fmt: skip
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind, t in report.kinds.items():
        if not t.objects:
            continue
        table.add_row(
            kind, f"{t.objects:,}", _size(t.bytes), f"{t.referenced:,}", f"{t.kept_young:,}",
            f"{t.kept_in_flight:,}", f"{t.orphans:,}", _size(t.orphan_bytes),
            f"{t.deleted:,} ({_size(t.deleted_bytes)})" if apply else "-",
        )  # fmt: skip
    console.print(table)
    for key in report.orphan_keys[:show]:
        console.print(f"  orphan: {key}")
    if report.orphans > show:
        console.print(f"  … and {report.orphans - min(show, len(report.orphan_keys)):,} more")
    verb = "deleted" if apply else "would delete"
    count = report.deleted if apply else report.orphans
    console.print(
        f"{verb} {count:,} object(s), {_size(report.orphan_bytes)} of orphans found "
        f"(grace {grace_hours:g} h) in {report.seconds:.1f} s"
    )
