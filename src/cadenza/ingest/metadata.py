"""Metadata from an upload's tags (mutagen), turned into TrackMetadata."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import mutagen

from cadenza.catalog.service import TrackMetadata

# An ISRC as taggers write it, in ASCII (`\d` would pass other scripts' digits on, to be refused later).
_ISRC_TAG = re.compile(r"[A-Za-z]{2}-?[A-Za-z0-9]{3}-?[0-9]{2}-?[0-9]{5}")


def _first(tags: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        values = tags.get(name)
        if values and str(values[0]).strip():
            return str(values[0]).strip()
    return None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    m = re.match(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?", text)  # ASCII: `\d` takes any script
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        return None


def _id3_txxx_isrc(path: Path) -> str | None:
    """ISRC kept as a user-defined ID3 frame (TXXX:ISRC, as ffmpeg and some taggers write it)."""
    try:
        full = mutagen.File(path)
    except Exception:
        return None
    frame = full.tags.get("TXXX:ISRC") if full is not None and full.tags is not None else None
    text = getattr(frame, "text", None)
    return str(text[0]).strip() if text else None


def read_tags(path: Path, *, fallback_title: str | None = None) -> TrackMetadata:
    """Title, artists, album, genre, track number, ISRC and date from tags; never raises on bad tags."""
    tags: dict[str, list[str]] = {}
    try:
        audio = mutagen.File(path, easy=True)
        if audio is not None and audio.tags is not None:
            tags = {
                k.lower(): [str(v) for v in vs] for k, vs in dict(audio.tags).items() if isinstance(vs, list)
            }
    except Exception:  # mutagen raises many types on damaged files; validation reports the real problem
        tags = {}
    artists: list[str] = []
    for value in tags.get("artist", []):
        artists.extend(a.strip() for a in re.split(r"\s*;\s*|\x00", value) if a.strip())
    number = _first(tags, "tracknumber")
    track_number = None
    if number:
        m = re.match(r"^\s*([0-9]{1,4})", number)
        track_number = int(m.group(1)) if m and int(m.group(1)) > 0 else None
    isrc = _first(tags, "isrc") or _id3_txxx_isrc(path)
    return TrackMetadata(
        title=_first(tags, "title") or fallback_title,
        artists=artists,
        release_title=_first(tags, "album"),
        release_date=_date(_first(tags, "date", "originaldate")),
        genre=_first(tags, "genre"),
        track_number=track_number,
        isrc=isrc if isrc and _ISRC_TAG.fullmatch(isrc) else None,
    )
