"""The `cadenza` command: serve, import, reprocess, migrate, worker, user, playlist, search, royalties."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cadenza.cli.playlists import playlist_app
from cadenza.cli.repackage import repackage
from cadenza.cli.reprocess import reprocess
from cadenza.cli.royalties import app as royalties_app
from cadenza.cli.search import search_app
from cadenza.config import get_settings

app = typer.Typer(help="Cadenza: an open-source music streaming platform.", no_args_is_help=True)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(playlist_app, name="playlist")
app.add_typer(search_app, name="search")
app.add_typer(royalties_app, name="royalties")
app.command("reprocess")(reprocess)
app.command("repackage")(repackage)
console = Console()

DEMO_USERS = [
    ("admin@cadenza.local", "cadenza-admin", "admin", "hifi"),
    ("listener@cadenza.local", "cadenza-listener", "listener", "premium"),
]

AUDIO_SUFFIXES = {
    ".flac",
    ".wav",
    ".wave",
    ".aif",
    ".aiff",
    ".mp3",
    ".m4a",
    ".aac",
    ".ogg",
    ".oga",
    ".opus",
    ".alac",
}


def _collect(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Files named directly are taken as they are; folders are walked for audio files."""
    files: list[Path] = []
    problems: list[str] = []
    for p in paths:
        if p.is_dir():
            files.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
            )
        elif p.is_file():
            files.append(p)
        else:
            problems.append(f"{p}: no such file or folder")
    return files, problems


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Audio files or folders (searched recursively).")],
    wait: Annotated[bool, typer.Option(help="Wait for processing to finish and print a summary.")] = True,
    grant: Annotated[
        str | None, typer.Option(help="Rights to grant worldwide to each import, e.g. 'stream,download'.")
    ] = None,
    holder: Annotated[str, typer.Option(help="Rights holder named in --grant rights.")] = "Self-published",
) -> None:
    """Import audio files into the catalog through the ingest pipeline."""
    from cadenza.bootstrap import bootstrap
    from cadenza.catalog.models import Track, TrackStatus
    from cadenza.errors import CadenzaError
    from cadenza.ingest.service import accept_upload

    files, problems = _collect(paths)
    for p in problems:
        console.print(f"[red]{p}[/red]")
    if not files:
        console.print("nothing to import")
        raise typer.Exit(1 if problems else 0)
    wired = bootstrap(get_settings(), resume=False)
    queued: dict[int, Path] = {}
    rejected: list[tuple[Path, str]] = []
    lyric_problems: list[str] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("importing", total=len(files))
        for f in files:
            try:
                track = accept_upload(wired.c, wired.runner, path=f, filename=f.name)
                queued[track.id] = f
                lrc_problem = _attach_sidecar_lrc(wired.c, track.id, f)
                if lrc_problem:
                    lyric_problems.append(lrc_problem)
                if grant:
                    _grant(wired.c, track.id, grant, holder)
            except CadenzaError as exc:
                rejected.append((f, exc.reason))
                progress.advance(bar)
        if not wait:
            progress.update(bar, completed=len(files))
        pending = set(queued)
        while wait and pending:
            with wired.c.sessions() as s:
                for tid in list(pending):
                    t = s.get(Track, tid)
                    if t is None or t.status != TrackStatus.processing:
                        pending.discard(tid)
                        progress.advance(bar)
            time.sleep(0.3)
    table = Table(title="Import summary")
    for col in ("file", "track", "status", "detail"):
        table.add_column(col)
    counts = {"ready": 0, "failed": 0, "duplicate": 0, "processing": 0}
    with wired.c.sessions() as s:
        for tid, f in queued.items():
            t = s.get(Track, tid)
            assert t is not None
            status = t.status.value
            detail = ""
            if t.status == TrackStatus.failed:
                detail = f"{t.stage}: {t.failure_reason}"
            elif t.duplicate_of:
                counts["duplicate"] += 1
                detail = f"duplicate of track {t.duplicate_of} (similarity {t.duplicate_score:.2f})"
            elif t.hifi_unavailable_reason:
                detail = t.hifi_unavailable_reason
            counts[status] = counts.get(status, 0) + 1
            style = {"ready": "green", "failed": "red"}.get(status, "yellow")
            table.add_row(str(f), str(tid), f"[{style}]{status}[/{style}]", detail)
    for f, reason in rejected:
        counts["failed"] += 1
        table.add_row(str(f), "-", "[red]rejected[/red]", reason)
    console.print(table)
    console.print(
        f"ready: {counts['ready']}  failed: {counts['failed']}  duplicates: {counts['duplicate']}"
        + (f"  still processing: {counts['processing']}" if counts["processing"] else "")
    )
    for problem in lyric_problems:
        console.print(f"[red]{problem}[/red]")
    wired.runner.shutdown(wait=True)
    if counts["failed"] or problems or lyric_problems:
        raise typer.Exit(2)


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
        str, typer.Option(help="Queues to take tasks from: cadenza-ingest, cadenza-analysis (reprocessing).")
    ] = "cadenza-ingest",
) -> None:
    """Run a Celery worker for the ingest pipeline (needs CADENZA_BROKER_URL)."""
    settings = get_settings()
    if not settings.broker_url:
        console.print(
            "[red]CADENZA_BROKER_URL is not set: the embedded server runs the pipeline itself[/red]"
        )
        raise typer.Exit(2)
    from cadenza import worker as celery_worker

    celery_worker.main(concurrency, queues=queues)


if __name__ == "__main__":
    app()
