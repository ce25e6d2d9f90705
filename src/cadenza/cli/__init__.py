"""The `cadenza` command: serve, import, reprocess, migrate, worker, user, playlist, search, royalties,
storage, keys."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cadenza.cli.keys import app as keys_app
from cadenza.cli.playlists import playlist_app
from cadenza.cli.repackage import repackage
from cadenza.cli.reprocess import reprocess
from cadenza.cli.royalties import app as royalties_app
from cadenza.cli.search import search_app
from cadenza.cli.storage import app as storage_app
from cadenza.config import get_settings
from cadenza.db.engine import transaction

app = typer.Typer(help="Cadenza: an open-source music streaming platform.", no_args_is_help=True)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(playlist_app, name="playlist")
app.add_typer(search_app, name="search")
app.add_typer(royalties_app, name="royalties")
app.add_typer(storage_app, name="storage")
app.add_typer(keys_app, name="keys")
app.command("reprocess")(reprocess)
app.command("repackage")(repackage)
console = Console()

DEMO_USERS = [
    ("admin@cadenza.local", "cadenza-admin", "admin", "hifi"),
    ("listener@cadenza.local", "cadenza-listener", "listener", "premium"),
]


@app.command("import")
def import_(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Audio files or folders (searched recursively).")
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="A CSV or JSON manifest: a `path` per track, optional title, artists, release, isrc…"
        ),
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option(help="Name of the import (default: derived from the paths): the same name resumes it."),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for processing to finish and print a summary.")] = True,
    max_in_flight: Annotated[
        int, typer.Option(min=1, help="At most this many of the import's tracks processing at once.")
    ] = 4,
    grant: Annotated[
        str | None, typer.Option(help="Rights to grant worldwide to each import, e.g. 'stream,download'.")
    ] = None,
    holder: Annotated[str, typer.Option(help="Rights holder named in --grant rights.")] = "Self-published",
) -> None:
    """Import audio files into the catalog through the ingest pipeline, in the bulk lane (single uploads
    go first). Resumable: after a kill, run the same command again; no file is imported twice."""
    from rich.progress import TimeRemainingColumn

    from cadenza.bootstrap import bootstrap
    from cadenza.errors import CadenzaError
    from cadenza.ingest import bulk
    from cadenza.ingest.runner import InProcessRunner
    from cadenza.telemetry.imports import ImportProgress

    sources = [*(paths or []), *([manifest] if manifest else [])]
    if not sources:
        console.print("name files, folders or a --manifest to import")
        raise typer.Exit(1)
    missing = [p for p in sources if not p.exists()]
    for p in missing:
        console.print(f"[red]{p}: no such file or folder[/red]")
    if missing:
        raise typer.Exit(1)
    wired = bootstrap(get_settings(), resume=False)
    c = wired.c
    name = batch or bulk.batch_name(sources)
    with transaction(c.sessions) as s:
        batch_id = bulk.open_batch(s, name=name).id
    try:
        entries = bulk.from_manifest(manifest) if manifest else bulk.from_paths(paths or [])
        total = bulk.plan(c.sessions, batch_id=batch_id, entries=entries)
    except (CadenzaError, OSError, ValueError) as exc:
        console.print(f"[red]{getattr(exc, 'reason', exc)}[/red]")
        raise typer.Exit(1) from None
    if total == 0:
        console.print("nothing to import")
        raise typer.Exit(0)
    if isinstance(wired.runner, InProcessRunner):
        resumed = bulk.resume(c, wired.runner, batch_id=batch_id)
        if resumed:
            console.print(f"resuming: {resumed} track(s) of this import were left processing")
    lyric_problems: list[str] = []

    def after_accept(track_id: int, f: Path) -> None:
        problem = _attach_sidecar_lrc(c, track_id, f)
        if problem:
            lyric_problems.append(problem)
        if grant:
            _grant(c, track_id, grant, holder)

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    figures = ImportProgress(name)  # cadenza_import_* in /metrics (docs/deployment.md)
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("importing", total=total)

        def tick() -> None:
            with c.sessions() as s:
                t = bulk.tally(s, batch_id=batch_id)
            figures.report(bulk.progress(t))
            progress.update(
                bar,
                completed=t.finished if wait else t.total - t.pending,
                description=f"importing ({t.processing} processing)",
            )

        bulk.run(c, wired.runner, batch_id=batch_id, max_in_flight=max_in_flight, on_tick=tick,
                 after_accept=after_accept)  # fmt: skip
        while wait:
            tick()
            with c.sessions() as s:
                if bulk.tally(s, batch_id=batch_id).processing == 0:
                    break
            time.sleep(0.3)
        tick()
    counts = _import_summary(c, batch_id)
    for problem in lyric_problems:
        console.print(f"[red]{problem}[/red]")
    wired.runner.shutdown(wait=True)
    if counts.failed or counts.rejected or lyric_problems:
        raise typer.Exit(2)


def _import_summary(c: object, batch_id: int):  # type: ignore[no-untyped-def]
    """The table (every file that did not simply become ready; all of them for small imports) and the
    totals line."""
    from sqlalchemy import select

    from cadenza.catalog.models import Track, TrackStatus
    from cadenza.ingest import bulk
    from cadenza.ingest.models import ImportItem

    table = Table(title="Import summary")
    for col in ("file", "track", "status", "detail"):
        table.add_column(col)
    with c.sessions() as s:  # type: ignore[attr-defined]
        counts = bulk.tally(s, batch_id=batch_id)
        small = counts.total <= 100
        rows = s.execute(
            select(ImportItem, Track)
            .outerjoin(Track, Track.id == ImportItem.track_id)
            .where(ImportItem.batch_id == batch_id)
            .order_by(ImportItem.position)
        )
        by_id = {}
        for item, t in rows:
            by_id[item.id] = item
            if item.state == "duplicate":
                first = by_id.get(item.duplicate_of_item)
                of = f"track {first.track_id}" if first is not None and first.track_id else "an earlier file"
                table.add_row(
                    item.path, "-", "[yellow]duplicate[/yellow]", f"the same file as {of} (skipped)"
                )
            elif t is None:
                if item.state != "pending":
                    table.add_row(item.path, "-", "[red]rejected[/red]", item.reason or "")
            elif t.status == TrackStatus.failed:
                table.add_row(item.path, str(t.id), "[red]failed[/red]", f"{t.stage}: {t.failure_reason}")
            elif t.duplicate_of:
                detail = f"duplicate of track {t.duplicate_of} (similarity {t.duplicate_score:.2f})"
                table.add_row(item.path, str(t.id), f"[yellow]{t.status.value}[/yellow]", detail)
            elif small:
                style = "green" if t.status == TrackStatus.ready else "yellow"
                table.add_row(item.path, str(t.id), f"[{style}]{t.status.value}[/{style}]",
                              t.hifi_unavailable_reason or "")  # fmt: skip
    if table.row_count:
        console.print(table)
    console.print(
        f"ready: {counts.ready}  failed: {counts.failed + counts.rejected}  "
        f"duplicates: {counts.similar + counts.duplicates}"
        + (f"  still processing: {counts.processing}" if counts.processing else "")
        + (f"  not started: {counts.pending}" if counts.pending else "")
    )
    return counts


def _attach_sidecar_lrc(c: object, track_id: int, audio: Path) -> str | None:
    """Attach `song.lrc` beside `song.flac` as the track's lyrics; a reason if it is refused (the track
    is imported all the same)."""
    from cadenza.catalog import lrc, lyrics
    from cadenza.db.engine import transaction
    from cadenza.errors import InvalidInput

    sidecar = audio.with_suffix(".lrc")
    if not sidecar.is_file():
        return None
    if sidecar.stat().st_size > lrc.MAX_LRC_BYTES:
        return f"{sidecar}: not attached: over {lrc.MAX_LRC_BYTES} bytes"
    try:
        parsed = lrc.parse(sidecar.read_bytes().decode("utf-8"))
    except (InvalidInput, UnicodeDecodeError) as exc:
        return f"{sidecar}: not attached: {getattr(exc, 'reason', exc)}"
    with transaction(c.sessions) as s:  # type: ignore[attr-defined]
        lyrics.attach(s, track_id=track_id, lyrics=parsed)
    return None


def _grant(c: object, track_id: int, kinds: str, holder: str) -> None:
    from cadenza.db.engine import transaction
    from cadenza.rights import service as rights

    with transaction(c.sessions) as s:  # type: ignore[attr-defined]
        h = rights.get_or_create_holder(s, name=holder)
        for kind in (k.strip() for k in kinds.split(",") if k.strip()):
            rights.grant(s, track_id=track_id, right_type=kind, holder_id=h.id)


@user_app.command("add")
def user_add(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    admin: Annotated[bool, typer.Option(help="Give the account the admin role.")] = False,
    tier: Annotated[str, typer.Option(help="free, premium or hifi.")] = "free",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create an account (the first admin is made this way)."""
    from cadenza.accounts import service
    from cadenza.accounts.models import Role, Tier
    from cadenza.bootstrap import build_collaborators
    from cadenza.db.engine import transaction
    from cadenza.errors import CadenzaError

    settings = get_settings()
    c = build_collaborators(settings)
    try:
        with transaction(c.sessions) as s:
            user = service.register(
                s,
                email=email,
                password=password,
                display_name=name,
                cfg=settings.accounts,
                role=Role.admin if admin else Role.listener,
                tier=Tier(tier),
            )
            console.print(f"created user {user.id} <{user.email}> ({user.role.value}, {user.tier.value})")
    except (CadenzaError, ValueError) as exc:
        console.print(f"[red]{getattr(exc, 'reason', exc)}[/red]")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    demo: Annotated[
        bool, typer.Option(help="Import demo tracks and accounts if the catalog is empty.")
    ] = False,
    server: Annotated[str, typer.Option(help="granian (default, fast media path) or uvicorn.")] = "granian",
    threads: Annotated[int, typer.Option(help="Granian runtime threads (I/O).")] = 2,
) -> None:
    """Run the HTTP server (migrations run first; pending tracks resume).

    One server process holds the in-process pipeline; Granian's runtime threads spread the I/O over the
    cores. For more processes, run the pipeline on Celery (CADENZA_BROKER_URL) and add servers."""
    settings = get_settings()
    if demo or settings.demo:
        _ensure_demo()
    address, listen = host or settings.host, port or settings.port
    if server == "uvicorn":
        import uvicorn

        from cadenza.web.app import create_app

        uvicorn.run(create_app(settings), host=address, port=listen, log_level="info")
        return
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "cadenza.web.app:create_app",
        factory=True,
        interface=Interfaces.ASGI,
        address=address,
        port=listen,
        workers=1,
        runtime_threads=threads,
    ).serve()


def _ensure_demo() -> None:
    """Queue demo tracks when the catalog is empty; the server's runner processes them after start."""
    from sqlalchemy import func, select

    from cadenza.accounts import service
    from cadenza.accounts.models import Role, Tier
    from cadenza.bootstrap import build_collaborators
    from cadenza.catalog.models import Track
    from cadenza.db.engine import transaction
    from cadenza.demo import write_demo_tracks
    from cadenza.ingest.service import accept_upload

    class _Later:
        def submit(self, track_id: int, *, start: str = "validate") -> None:
            return None  # picked up by the server's runner as an interrupted track

    settings = get_settings()
    c = build_collaborators(settings)
    with c.sessions() as s:
        count = s.scalar(select(func.count()).select_from(Track)) or 0
    if count == 0:
        console.print("catalog is empty: adding demo tracks")
        for path in write_demo_tracks(settings.data_dir / "demo"):
            track = accept_upload(c, _Later(), path=path, filename=path.name)
            _grant(c, track.id, "stream,download", "Cadenza Demo Label")
    with transaction(c.sessions) as s:
        for email, password, role, tier in DEMO_USERS:
            if service.get_user_by_email(s, email=email) is None:
                service.register(
                    s,
                    email=email,
                    password=password,
                    display_name=None,
                    cfg=settings.accounts,
                    role=Role(role),
                    tier=Tier(tier),
                )
    for email, password, role, _ in DEMO_USERS:
        console.print(f"demo {role}: {email} / {password}")


@app.command()
def migrate() -> None:
    """Apply database migrations (also done automatically at start)."""
    from cadenza.db import migrate as m
    from cadenza.db.engine import make_engine

    m.upgrade(make_engine(get_settings().db_url))
    console.print("database is up to date")


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    queues: Annotated[
        str,
        typer.Option(
            help="Queues to take tasks from: cadenza-ingest (single uploads), cadenza-ingest-bulk "
            "(`cadenza import`), cadenza-analysis (reprocessing)."
        ),
    ] = "cadenza-ingest,cadenza-ingest-bulk",
    name: Annotated[
        str | None, typer.Option(help="Worker node name (several workers on one host need their own).")
    ] = None,
) -> None:
    """Run a Celery worker for the ingest pipeline (needs CADENZA_BROKER_URL)."""
    settings = get_settings()
    if not settings.broker_url:
        console.print(
            "[red]CADENZA_BROKER_URL is not set: the embedded server runs the pipeline itself[/red]"
        )
        raise typer.Exit(2)
    from cadenza import worker as celery_worker

    celery_worker.main(concurrency, queues=queues, name=name)


@app.command()
def beat(
    schedule: Annotated[
        Path | None, typer.Option(help="Where beat keeps its last-run times (default: data dir).")
    ] = None,
) -> None:
    """Run Celery beat: rollup refresh, clean-up and the stale-track reaper on a schedule (one per
    cluster; needs CADENZA_BROKER_URL)."""
    settings = get_settings()
    if not settings.broker_url:
        console.print("[red]CADENZA_BROKER_URL is not set: beat schedules work for Celery workers[/red]")
        raise typer.Exit(2)
    from cadenza import worker as celery_worker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    celery_worker.beat_main(str(schedule or settings.data_dir / "celerybeat-schedule"))


if __name__ == "__main__":
    app()
