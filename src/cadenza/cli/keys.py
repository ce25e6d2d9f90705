"""`cadenza keys …`: the content keys of protected tracks (rewrap: master-key rotation)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(help="Content keys of protected tracks (docs/delivery.md).", no_args_is_help=True)
console = Console()

_HOW = (
    "add the new key to CADENZA_PROTECTION__MASTER_KEYS (JSON: id → 32 bytes in base64), keep the old "
    "one there, and make the new one CADENZA_PROTECTION__ACTIVE_MASTER_KEY"
)


def _refuse(reason: str) -> typer.Exit:
    console.print(f"[red]refused: {escape(reason)}[/red]")
    return typer.Exit(2)


@app.command()
def rewrap(
    to: Annotated[
        str | None,
        typer.Option(help="The master key id to wrap under; it must be the configured active one."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Open every key that would change, write nothing.")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Content keys per transaction.")] = 500,
) -> None:
    """Re-wrap every content key under the active master key (master-key rotation), in batches that
    each commit: media and KIDs are untouched, and a stopped run is finished by running it again.
    Afterwards the old master key wraps nothing and can be removed from the configuration."""
    from cadenza.bootstrap import build_collaborators
    from cadenza.config import get_settings
    from cadenza.protection import envelope
    from cadenza.protection import keys as content_keys

    try:
        settings = get_settings()
        active, masters = settings.master_keys()
    except ValueError as exc:  # pydantic's ValidationError is one too
        raise _refuse(f"the master keys are not usable: {exc}") from None
    if to is not None and to not in masters:
        raise _refuse(f"master key {to!r} is not configured: {_HOW}")
    if len(masters) > 1 and settings.protection.active_master_key is None:
        raise _refuse(
            f"{len(masters)} master keys are configured and none is named active "
            f"(CADENZA_PROTECTION__ACTIVE_MASTER_KEY): say which one is new"
        )
    if to is not None and to != active:
        raise _refuse(
            f"master key {to!r} is configured but {active!r} is the active one: make {to!r} "
            f"CADENZA_PROTECTION__ACTIVE_MASTER_KEY first, so keys made during and after the run are "
            f"wrapped under it too"
        )
    c = build_collaborators(settings)
    pending = content_keys.rewrap_pending(c.sessions, target=active)
    total = sum(pending.values())
    for master_id, n in sorted(pending.items()):
        configured = "" if master_id in masters else "  [red](not configured: these cannot be opened)[/red]"
        console.print(f"under {escape(repr(master_id))}: {n:,} content key(s){configured}")
    started = time.monotonic()
    rewrapped, failed = 0, dict[int, str]()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("checking" if dry_run else f"re-wrapping under {active!r}", total=total)
        for step in content_keys.rewrap_batches(
            c.sessions, envelope.MasterKeys(active=active, keys=masters), batch=batch, dry_run=dry_run
        ):
            rewrapped += step.rewrapped
            failed.update(step.failed)
            progress.advance(bar, step.rewrapped + len(step.failed))
    for reason in list(failed.values())[:20]:
        console.print(f"[red]  {escape(reason)}[/red]")
    if len(failed) > 20:
        console.print(f"[red]  … and {len(failed) - 20:,} more[/red]")
    verb = "would re-wrap" if dry_run else "re-wrapped"
    console.print(
        f"{verb} {rewrapped:,} content key(s) under {active!r}; failed: {len(failed):,}; "
        f"time: {time.monotonic() - started:.1f} s" + ("  (dry run: nothing written)" if dry_run else "")
    )
    if failed:
        console.print(
            "[red]keys that failed are left as they were: configure the master key they name and run "
            "`cadenza keys rewrap` again[/red]"
        )
        raise typer.Exit(1)
    left = content_keys.rewrap_pending(c.sessions, target=active)
    if not dry_run and not left:
        retired = sorted(set(masters) - {active})
        if retired:
            console.print(
                f"no content key is wrapped under {', '.join(map(repr, retired))} any more: remove it from "
                "the configuration (keep it with the database back-ups made before today)"
            )
