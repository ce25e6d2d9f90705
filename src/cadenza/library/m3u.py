"""Playlists from and to M3U / M3U8 files (the `cadenza playlist import/export` commands call these).

Reading is a tolerant line parser rather than the `m3u8` library: that library reads HLS playlists, and
drops what a music playlist carries in comments and non-HLS tags (`#EXTART`, ISRCs written by tagging
tools), which is exactly what matching needs. Accepted: an optional BOM and `#EXTM3U` header,
`#PLAYLIST:` (the name), `#EXTINF:<seconds>[ attributes],<artist> - <title>`, `#EXTART:`, an ISRC in
`#EXT-X-ISRC:`, `#EXTISRC:`, `#ISRC:` or any comment saying `ISRC: CCXXXYYNNNNN`, then the location line
(a path or a URL, Windows or POSIX); blank lines and unknown tags are skipped.

Each entry is matched to a catalog track by a `Matcher`; `CatalogMatcher` tries, in order:

1. the ISRC, if the file gives one (exact: a recording's code);
2. title and artist, from `#EXTINF`, through `cadenza.search.service`: a hit counts only if its folded
   title equals the entry's and, when the entry names an artist, one of the hit's artists folds equal
   too (a wrong track is worse than a missing one, so no fuzzy or partial hits are taken);
3. tags of the file itself, when the matcher was given a directory the file lies under (the server's
   own music folder: nothing outside it is opened), else title and artist read from the path
   (`Artist/Album/01 - Title.flac`, `Artist - Title.mp3`), and steps 1-2 again with those.

Only listable tracks are matched (search's index and `catalog.visibility` hold to the same rule). What
did not match is returned with its line number and the reason, so a listener can fix it by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.catalog.codes import normalize_isrc
from cadenza.catalog.models import Track
from cadenza.catalog.visibility import Viewer, listable_track
from cadenza.db.base import utcnow
from cadenza.db.lists import one_of
from cadenza.errors import InvalidInput
from cadenza.ingest.metadata import read_tags
from cadenza.library import entries, playlists
from cadenza.library.limits import MAX_BATCH, MAX_ENTRIES, MAX_NAME
from cadenza.library.tracks import TrackInfo
from cadenza.search import service as search
from cadenza.search.folding import fold

MAX_TEXT = 4_000_000  # characters of one file (10,000 entries with long paths and tags)
_ISRC_IN_COMMENT = re.compile(r"\bISRC\s*[:=]\s*([A-Za-z]{2}-?[A-Za-z0-9]{3}-?\d{2}-?\d{5})\b", re.IGNORECASE)
_ISRC_TAGS = ("#EXT-X-ISRC:", "#EXTISRC:", "#ISRC:")
_EXTINF = re.compile(r"^#EXTINF:\s*(-?\d+(?:\.\d+)?)?[^,]*,(.*)$", re.IGNORECASE)
_TRACK_NUMBER = re.compile(r"^\s*\d{1,3}\s*(?:[-.]\s*|\s+)")


@dataclass(frozen=True)
class M3UEntry:
    line: int  # the location's line number, from 1
    location: str
    title: str | None = None
    artist: str | None = None
    duration_sec: float | None = None
    isrc: str | None = None


@dataclass(frozen=True)
class M3UFile:
    name: str | None  # from #PLAYLIST:
    entries: list[M3UEntry]


def parse(text: str) -> M3UFile:
    """The entries of an M3U or M3U8 text, in order (pure: no files are opened)."""
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"the playlist file is larger than {MAX_TEXT:,} characters")
    name: str | None = None
    found: list[M3UEntry] = []
    pending: dict[str, object] = {}
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            found.append(M3UEntry(line=number, location=line, **pending))  # type: ignore[arg-type]
            pending = {}
            continue
        upper = line.upper()
        if upper.startswith("#PLAYLIST:"):
            name = line[10:].strip() or name
        elif (m := _EXTINF.match(line)) is not None:
            seconds = float(m.group(1)) if m.group(1) else None
            artist, title = _artist_and_title(m.group(2))
            pending.update(title=title, duration_sec=seconds if seconds and seconds > 0 else None)
            if artist:
                pending["artist"] = artist
        elif upper.startswith("#EXTART:"):
            pending["artist"] = line[8:].strip() or None
        elif isrc := _isrc_of(line, upper):
            pending["isrc"] = isrc
    return M3UFile(name, found)


def _artist_and_title(text: str) -> tuple[str | None, str | None]:
    text = text.strip()
    if " - " in text:
        artist, title = text.split(" - ", 1)
        return artist.strip() or None, title.strip() or None
    return None, text or None


def _isrc_of(line: str, upper: str) -> str | None:
    for tag in _ISRC_TAGS:
        if upper.startswith(tag):
            return _valid_isrc(line[len(tag) :])
    m = _ISRC_IN_COMMENT.search(line)
    return _valid_isrc(m.group(1)) if m else None


def _valid_isrc(text: str) -> str | None:
    try:
        return normalize_isrc(text.strip())
    except InvalidInput:
        return None


def guess_from_path(location: str) -> tuple[str | None, str | None]:
    """(artist, title) read from a path: `Artist - Title.ext`, or `Artist/Album/01 - Title.ext`."""
    path = PureWindowsPath(location) if "\\" in location else PurePosixPath(location.split("?", 1)[0])
    stem = _TRACK_NUMBER.sub("", path.stem).replace("_", " ").strip()
    if not stem:
        return None, None
    if " - " in stem:
        return _artist_and_title(stem)
    parents = path.parts[:-1]
    return (parents[-2] if len(parents) >= 2 else None), stem


# --- matching ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    track_id: int
    how: str  # isrc, search, file tags, path


class Matcher(Protocol):
    def match(self, session: Session, entry: M3UEntry) -> Match | str:
        """The catalog track for `entry`, or the reason there is none."""
        ...


@dataclass
class CatalogMatcher:
    """ISRC, then title and artist through search, then the file's own tags or its path."""

    music_root: Path | None = None  # files under it may be opened to read their tags
    searched: int = field(default=0, init=False)  # searches made (an import's cost is mostly these)

    def match(self, session: Session, entry: M3UEntry) -> Match | str:
        found = self._by(session, entry.isrc, entry.title, entry.artist)
        if isinstance(found, Match):
            return found
        tags = self._tags(entry.location)
        if tags is not None:
            isrc, title, artist = tags
            again = self._by(session, isrc, title, artist, how="file tags")
            if isinstance(again, Match):
                return again
        artist, title = guess_from_path(entry.location)
        if (title, artist) != (entry.title, entry.artist):
            again = self._by(session, None, title, artist, how="path")
            if isinstance(again, Match):
                return again
        return found

    def _by(
        self, session: Session, isrc: str | None, title: str | None, artist: str | None, *, how: str = ""
    ) -> Match | str:
        if isrc:
            query = select(Track.id).where(Track.isrc == isrc, listable_track()).order_by(Track.id).limit(1)
            track_id = session.scalar(query)
            if track_id is not None:
                return Match(track_id, how or "isrc")
        if not title:
            return f"no track with ISRC {isrc}" if isrc else "no title, artist or ISRC to match by"
        track_id = self._search(session, title, artist)
        if track_id is not None:
            return Match(track_id, how or "search")
        by = f" by {artist}" if artist else ""
        return f"no catalog track titled {title!r}{by}" + (f" (nor ISRC {isrc})" if isrc else "")

    def _search(self, session: Session, title: str, artist: str | None) -> int | None:
        key, artist_key = fold(title).key, fold(artist).key if artist else None
        if not key:
            return None
        query = " ".join(part for part in (artist, title) if part)[:200]
        self.searched += 1
        try:
            hits = search.search(session, q=query, type="track", limit=20, facets=False).hits
        except InvalidInput:
            return None
        for hit in hits:
            if fold(hit.title).key == key and (
                artist_key is None or any(fold(a).key == artist_key for a in hit.artists)
            ):
                return hit.id
        return None

    def _tags(self, location: str) -> tuple[str | None, str | None, str | None] | None:
        """(isrc, title, artist) from the file's tags, if it lies under `music_root`."""
        if self.music_root is None or "://" in location:
            return None
        root = self.music_root.resolve()
        path = Path(location)
        path = (path if path.is_absolute() else root / path).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        meta = read_tags(path)
        return meta.isrc and _valid_isrc(meta.isrc), meta.title, meta.artists[0] if meta.artists else None


# --- import and export ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unmatched:
    line: int
    location: str
    title: str | None
    artist: str | None
    reason: str


@dataclass(frozen=True)
class ImportReport:
    playlist_id: int
    name: str
    entries: int  # entries in the file
    matched: int
    matched_by: dict[str, int]  # how many by isrc, search, file tags, path
    unmatched: list[Unmatched]


def import_m3u(
    session: Session,
    *,
    owner_id: int,
    text: str,
    name: str | None = None,
    matcher: Matcher | None = None,
) -> ImportReport:
    """A new playlist owned by `owner_id` with the file's entries that match catalog tracks, in the file's
    order; the report says what did not match and why. `name` overrides the file's #PLAYLIST name."""
    parsed = parse(text)
    if len(parsed.entries) > MAX_ENTRIES:
        raise InvalidInput(
            f"a playlist holds at most {MAX_ENTRIES:,} entries; the file has {len(parsed.entries):,}"
        )
    matcher = matcher or CatalogMatcher()
    owner = Viewer(user_id=owner_id)
    playlist_name = (name or parsed.name or "Imported playlist").strip()[:MAX_NAME]
    playlist = playlists.create_playlist(session, viewer=owner, name=playlist_name)
    track_ids: list[int] = []
    by: dict[str, int] = {}
    unmatched: list[Unmatched] = []
    for entry in parsed.entries:
        found = matcher.match(session, entry)
        if isinstance(found, Match):
            track_ids.append(found.track_id)
            by[found.how] = by.get(found.how, 0) + 1
        else:
            unmatched.append(Unmatched(entry.line, entry.location, entry.title, entry.artist, found))
    for start in range(0, len(track_ids), MAX_BATCH):
        batch = track_ids[start : start + MAX_BATCH]
        entries.add_tracks(session, playlist_id=playlist.id, viewer=owner, track_ids=batch)
    return ImportReport(playlist.id, playlist.name, len(parsed.entries), len(track_ids), by, unmatched)


def export_m3u(
    session: Session,
    *,
    playlist_id: int,
    viewer: Viewer,
    location: Callable[[TrackInfo], str] | None = None,
) -> str:
    """An extended M3U8 text of a playlist the viewer may read: `#EXTINF` with artists and title, the
    ISRC (so another service can match it exactly), and a location line (`cadenza:track:<id>` unless
    `location` says otherwise). Entries whose track left the catalog are written as comments."""
    where = location or (lambda t: f"cadenza:track:{t.id}")
    lines = ["#EXTM3U"]
    now = utcnow()  # availability does not go into the file
    after: int | None = None
    first = True
    while True:
        got = entries.page(session, playlist_id=playlist_id, viewer=viewer, at=now, after=after, limit=500)
        if first:
            lines.append(f"#PLAYLIST:{_one_line(got.playlist.name)}")
            first = False
        tracks = [e.track for e in got.entries if e.track is not None]
        isrcs = dict(
            session.execute(
                select(Track.id, Track.isrc).where(one_of(session, Track.id, [t.id for t in tracks]))
            ).all()
        )
        for e in got.entries:
            if e.track is None:
                lines.append(f"# entry {e.entry_id}: its track was removed from the catalog")
                continue
            t = e.track
            seconds = round(t.duration_sec) if t.duration_sec else -1
            credit = _one_line(", ".join(t.artists))
            lines.append(f"#EXTINF:{seconds},{credit + ' - ' if credit else ''}{_one_line(t.title)}")
            if isrcs.get(t.id):
                lines.append(f"#EXT-X-ISRC:{isrcs[t.id]}")
            lines.append(_one_line(where(t)))
        if got.next_after is None:
            return "\n".join(lines) + "\n"
        after = got.next_after


def _one_line(text: str) -> str:
    return " ".join(text.split())
