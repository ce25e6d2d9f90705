"""`cadenza playlist …`: move playlists in and out as M3U8 (a listener's other players, other services)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cadenza.config import get_settings

playlist_app = typer.Typer(help="Import and export playlists as M3U8.", no_args_is_help=True)
console = Console(stderr=True)


def _owner(s, email: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from cadenza.accounts.models import User
    from cadenza.accounts.service import normalize_email

    user = s.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        console.print(f"[red]no account with the e-mail {email!r}[/red]")
        raise typer.Exit(2)
    return user


@playlist_app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="An .m3u or .m3u8 file.")
    ],
    user: Annotated[str, typer.Option("--user", help="The owner's e-mail.")],
    name: Annotated[
        str | None, typer.Option(help="The playlist's name (default: #PLAYLIST or the file name).")
    ] = None,
    music_root: Annotated[
        Path | None, typer.Option(help="Where the file's paths point: their tags are read to match them.")
    ] = None,
) -> None:
    """Make a playlist from an M3U8 file: entries are matched to catalog tracks by ISRC, then title and
    artist through search, then the tags of the file the path names; a summary lists what did not match."""
    from cadenza.bootstrap import build_collaborators
    from cadenza.db.engine import transaction
    from cadenza.errors import CadenzaError
    from cadenza.library import m3u

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = file.read_text(encoding="latin-1")  # plain .m3u files are often Latin-1
    c = build_collaborators(get_settings())
    try:
        with transaction(c.sessions) as s:
            owner = _owner(s, user)
            report = m3u.import_m3u(
                s,
                owner_id=owner.id,
                text=text,
                name=name or None,
                matcher=m3u.CatalogMatcher(music_root=music_root),
            )
    except CadenzaError as exc:
        console.print(f"[red]{exc.reason}[/red]")
        raise typer.Exit(2) from None
    how = ", ".join(f"{n} by {k}" for k, n in sorted(report.matched_by.items())) or "none"
    console.print(
        f"playlist {report.playlist_id} [bold]{report.name}[/bold]: "
        f"{report.matched} of {report.entries} entries matched ({how})"
    )
    if report.unmatched:
        table = Table("line", "entry", "why not")
        for u in report.unmatched:
            label = " - ".join(x for x in (u.artist, u.title) if x) or u.location
            table.add_row(str(u.line), label, u.reason)
        console.print(table)


@playlist_app.command("export")
def export(
    playlist_id: Annotated[int, typer.Argument(min=1, help="The playlist's id.")],
    user: Annotated[str, typer.Option("--user", help="Export as this account (it must be able to read it).")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Write a playlist as extended M3U8 (#EXTINF with artists and title, the ISRC, a location per entry)."""
    from cadenza.accounts.models import Role
    from cadenza.bootstrap import build_collaborators
    from cadenza.catalog.visibility import Viewer
    from cadenza.db.engine import reading
    from cadenza.errors import CadenzaError
    from cadenza.library import m3u

    c = build_collaborators(get_settings())
    try:
        with reading(c.sessions) as s:
            owner = _owner(s, user)
            viewer = Viewer(user_id=owner.id, is_admin=owner.role == Role.admin)
            text = m3u.export_m3u(s, playlist_id=playlist_id, viewer=viewer)
    except CadenzaError as exc:
        console.print(f"[red]{exc.reason}[/red]")
        raise typer.Exit(2) from None
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")
