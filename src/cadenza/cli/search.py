"""`cadenza search ...`: rebuild the index, try a query."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

search_app = typer.Typer(help="Catalog search index.", no_args_is_help=True)
console = Console()


@search_app.command()
def reindex() -> None:
    """Rebuild the search index from scratch from the catalog's ready tracks."""
    from cadenza.bootstrap import build_collaborators
    from cadenza.config import get_settings
    from cadenza.db.engine import engine_of, transaction
    from cadenza.search import service

    c = build_collaborators(get_settings())
    started = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, transaction(c.sessions) as s:
        bar = progress.add_task("indexing tracks", total=None)
        docs = service.reindex(
            s, progress=lambda done, total: progress.update(bar, completed=done, total=total)
        )
        progress.update(bar, description="building indexes")
    with console.status("vacuuming and analyzing the index"):
        service.settle(engine_of(c.sessions))
    console.print(f"indexed {docs} documents in {time.monotonic() - started:.1f} s")


@search_app.command("query")
def query(
    q: Annotated[str, typer.Argument(help="What to look for.")],
    type: Annotated[str, typer.Option(help="track, artist or release.")] = "track",
    limit: Annotated[int, typer.Option(help="Results to show.")] = 10,
) -> None:
    """Run a search and print the results with how each matched."""
    from cadenza.bootstrap import build_collaborators
    from cadenza.config import get_settings
    from cadenza.errors import CadenzaError
    from cadenza.search import service

    c = build_collaborators(get_settings())
    with c.sessions() as s:
        try:
            page = service.search(s, q=q, type=type, limit=limit)
        except CadenzaError as exc:
            console.print(f"[red]{exc.reason}[/red]")
            raise typer.Exit(2) from None
    table = Table(title=f"{page.total}{'' if page.total_exact else '+'} matches")
    for col in ("id", "title", "artists", "match", "plays"):
        table.add_column(col)
    for h in page.hits:
        table.add_row(str(h.id), h.title, ", ".join(h.artists), h.match, str(h.play_count))
    console.print(table)
