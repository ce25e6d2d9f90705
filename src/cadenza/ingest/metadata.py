"""Metadata from an upload's tags (mutagen), turned into TrackMetadata; the cover picture and the lyrics
embedded in them."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import mutagen
from mutagen.apev2 import APEv2
from mutagen.flac import Picture
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags

from cadenza.catalog import lrc
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


# ID3/FLAC picture types (APIC, METADATA_BLOCK_PICTURE): 3 is the front cover, 0 "other" (what many
# taggers write when nobody chose). Any other type (back cover, artist, logo...) is only a last resort.
_FRONT_COVER = 3
_OTHER = 0


def embedded_cover(path: Path) -> bytes | None:
    """The picture in the file's tags that best serves as its cover: the front cover, else one of type
    "other", else the first. ID3 APIC (MP3, WAV, AIFF), FLAC picture blocks, Vorbis comments'
    METADATA_BLOCK_PICTURE (Ogg Vorbis, Opus, FLAC), MP4 `covr`, APEv2 "Cover Art (Front)".

    mutagen reads the tag blocks only: no audio is decoded. Never raises; the bytes are not checked
    (catalog/artwork.py does that)."""
    try:
        audio = mutagen.File(path)
        pictures = list(_pictures(audio)) if audio is not None else []
    except Exception:  # damaged tags: validation reports what matters about the file
        return None
    if not pictures:
        return None
    rank = {_FRONT_COVER: 0, _OTHER: 1}
    return min(enumerate(pictures), key=lambda p: (rank.get(p[1][0], 2), p[0]))[1][1]


def _pictures(audio: Any) -> Iterator[tuple[int, bytes]]:
    """(picture type, bytes) of every picture in the file, in file order."""
    for pic in getattr(audio, "pictures", None) or []:  # FLAC PICTURE metadata blocks
        yield int(pic.type), bytes(pic.data)
    tags = audio.tags
    if tags is None:
        return
    if isinstance(tags, ID3):
        for frame in tags.getall("APIC"):  # ID3v2.2 PIC frames are upgraded to APIC on load
            yield int(frame.type), bytes(frame.data)
    elif isinstance(tags, MP4Tags):
        for cover in tags.get("covr", []):  # MP4 names no picture type: a cover is a front cover
            yield _FRONT_COVER, bytes(cover)
    elif isinstance(tags, APEv2):
        for key, kind in (("Cover Art (Front)", _FRONT_COVER), ("Cover Art (Other)", _OTHER)):
            value = tags.get(key)
            if value is not None:  # "<file name>\0<image bytes>"
                yield kind, bytes(value.value).partition(b"\0")[2]
    elif hasattr(tags, "get"):  # Vorbis comments (Ogg Vorbis, Opus, FLAC)
        for encoded in tags.get("metadata_block_picture", []):
            try:
                pic = Picture(base64.b64decode(encoded))
            except Exception:
                continue
            yield int(pic.type), bytes(pic.data)


# ID3 SYLT time stamp formats: 1 = MPEG frames, 2 = milliseconds. Only milliseconds are read.
_SYLT_MS = 2


def embedded_lyrics(path: Path) -> lrc.Lyrics | None:
    """The lyrics in the file's tags, synced ones first: ID3 SYLT (milliseconds), else LRC text or plain
    text in ID3 USLT, Vorbis comments `LYRICS`/`UNSYNCEDLYRICS` (FLAC, Ogg Vorbis, Opus), MP4 `©lyr` or
    APEv2 `Lyrics`. Text that parses as LRC is synced; other text becomes unsynced lines. Never raises
    (a damaged or odd tag is no reason to lose the audio)."""
    try:
        audio = mutagen.File(path)
        tags = audio.tags if audio is not None else None
        if tags is None:
            return None
        return _lyrics(tags)
    except Exception:
        return None


def _lyrics(tags: Any) -> lrc.Lyrics | None:
    texts: list[tuple[str, str | None]] = []  # (text, language)
    if isinstance(tags, ID3):
        for frame in tags.getall("SYLT"):
            if frame.format == _SYLT_MS and frame.text:
                found = lrc.from_synced(list(frame.text), language=lrc.language_tag(frame.lang or ""))
                if found is not None:
                    return found
        texts = [(str(f.text), lrc.language_tag(f.lang or "")) for f in tags.getall("USLT")]
    elif isinstance(tags, MP4Tags):
        texts = [(str(t), None) for t in tags.get("\xa9lyr", [])]
    elif isinstance(tags, APEv2):
        value = tags.get("Lyrics")
        texts = [(str(value), None)] if value is not None else []
    elif hasattr(tags, "get"):  # Vorbis comments: keys are case-insensitive
        for key in ("lyrics", "unsyncedlyrics"):
            texts += [(str(t), None) for t in tags.get(key, [])]
    found = [lyrics for text, lang in texts if (lyrics := lrc.from_tag(text, language=lang)) is not None]
    synced = [lyrics for lyrics in found if lyrics.synced]
    return (synced or found or [None])[0]
