"""The MP3 download with ReplayGain tags: the stored MP3 with ID3v2 TXXX frames `REPLAYGAIN_TRACK_GAIN`,
`REPLAYGAIN_TRACK_PEAK`, `REPLAYGAIN_ALBUM_GAIN`, `REPLAYGAIN_ALBUM_PEAK` (the frames and text forms
foobar2000, Picard and mutagen write: "-6.48 dB", "0.988553"), from the catalog's EBU R128 figures
(`catalog.loudness`: ReplayGain 2.0, -18 LUFS reference). The audio frames are copied, never re-encoded.

**A tagged object, written once.** The tagged file is derived media like any other: it is stored beside
the MP3 it copies, under a key made of that MP3's key (which holds the track's media version: source
and output settings) and a digest of the tag values (`storage.keys.tagged`). So the signed media path,
nginx's X-Accel and the CDN serve it exactly as they serve the plain MP3 (Range, ETag, sendfile, no
Python in the byte path); the first download with a given set of values writes it (a copy of the
~8 MB file and a tag write, ~30 ms here), every later one finds it (one `exists`). The album gain is
read from the release at each download, so when a track joins or leaves the release the next download
names new values, hence a new object; the stale one goes when the track's media version is replaced
(publishing deletes every older key under the track). The alternative, a small tag prefix spliced
before the stored bytes at serving time, would put Python (or an njs script) into every Range request
of the download and keep the stored file's own ID3 header in the middle of the stream.

A track not measured yet (no loudness: `cadenza reprocess --only loudness`) has no figures to write;
asking for the tags then is refused with that reason, the plain download still works. A track on no
release, or whose release has no album figure, gets the two track tags only."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mutagen.id3 import ID3, TXXX, ID3NoHeaderError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.catalog.loudness import replaygain_gain, replaygain_peak
from cadenza.catalog.models import Release, Track
from cadenza.errors import InvalidInput, NotFound
from cadenza.storage import keys
from cadenza.storage.base import ObjectStore

# Bump when the way the tags are written changes: objects written the old way are then not reused.
TAG_LAYOUT = "rg1"


@dataclass(frozen=True)
class ReplayGain:
    """ReplayGain 2.0 figures of a track and (when known) its release, as written into the file."""

    track_gain_db: float
    track_peak: float
    album_gain_db: float | None
    album_peak: float | None

    def frames(self) -> dict[str, str]:
        """TXXX description → text, in the conventional order."""
        out = {
            "REPLAYGAIN_TRACK_GAIN": f"{self.track_gain_db:.2f} dB",
            "REPLAYGAIN_TRACK_PEAK": f"{self.track_peak:.6f}",
        }
        if self.album_gain_db is not None and self.album_peak is not None:
            out["REPLAYGAIN_ALBUM_GAIN"] = f"{self.album_gain_db:.2f} dB"
            out["REPLAYGAIN_ALBUM_PEAK"] = f"{self.album_peak:.6f}"
        return out

    def digest(self) -> str:
        """What names the tagged object: the layout and every value written."""
        text = TAG_LAYOUT + "|" + "|".join(f"{k}={v}" for k, v in self.frames().items())
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def figures(session: Session, *, track_id: int) -> ReplayGain:
    """The track's ReplayGain figures and its release's current album figures (read now, not cached:
    the album figure changes when the release's tracks change). InvalidInput for a track not measured."""
    row = session.execute(
        select(Track.loudness_lufs, Track.true_peak_dbtp, Release.loudness_lufs, Release.true_peak_dbtp)
        .outerjoin(Release, Release.id == Track.release_id)
        .where(Track.id == track_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"track {track_id} not found")
    track_lufs, track_peak, album_lufs, album_peak = row
    gain, peak = replaygain_gain(track_lufs), replaygain_peak(track_peak)
    if gain is None or peak is None:
        raise InvalidInput(
            f"track {track_id} has no loudness measurement yet, so no ReplayGain tags can be written "
            "(download it without replaygain, or measure it: cadenza reprocess --only loudness)"
        )
    return ReplayGain(gain, peak, replaygain_gain(album_lufs), replaygain_peak(album_peak))


def tag_file(path: Path, gain: ReplayGain) -> None:
    """Write the ReplayGain frames into the MP3 at `path` (ID3v2.4; any ReplayGain frames already there are
    replaced, other frames kept). Only the tag at the file's start is rewritten: no audio frame changes."""
    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        tags = ID3()
    for frame in list(tags.getall("TXXX")):
        if frame.desc.upper().startswith("REPLAYGAIN_"):
            tags.delall(f"TXXX:{frame.desc}")
    for desc, text in gain.frames().items():
        tags.add(TXXX(encoding=3, desc=desc, text=[text]))
    tags.save(path, v2_version=4)


def tagged_download(store: ObjectStore, *, source_key: str, gain: ReplayGain) -> str:
    """The key of the stored MP3 `source_key` carrying `gain`'s tags, written now if it is not stored
    yet. Two requests racing write the same bytes to the same key (the store's put replaces whole)."""
    if not source_key.endswith(".mp3"):
        raise InvalidInput("ReplayGain tags are written into the MP3 download only")
    key = keys.tagged(source_key, gain.digest())
    if store.exists(key):
        return key
    fd, name = tempfile.mkstemp(suffix=".mp3", prefix="replaygain-")
    os.close(fd)
    tmp = Path(name)
    try:
        with store.fetch(source_key) as source, tmp.open("wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)
        tag_file(tmp, gain)
        store.put_file(key, tmp, content_type="audio/mpeg", disposable=True)
    finally:
        tmp.unlink(missing_ok=True)
    return key
