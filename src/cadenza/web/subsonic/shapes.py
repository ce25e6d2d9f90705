"""Subsonic 1.16.1 / OpenSubsonic elements built from catalog facts: `Child` (a song), `AlbumID3`,
`ArtistID3`, `Playlist`, and the folder-era `Child` of an album and `Artist`. One function per element;
XML and JSON are both rendered from what they return."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cadenza.catalog import loudness
from cadenza.catalog.browse import ArtistFacts, ReleaseFacts
from cadenza.catalog.song_rows import SongRow
from cadenza.library.models import Playlist
from cadenza.web.subsonic import ids


def stamp(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is UTC:  # as the database gives it (`db.base.UTCDateTime`): no conversion to make
        return at.isoformat(timespec="milliseconds")[:-6] + "Z"
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def song(row: SongRow, *, starred: datetime | None = None, rating: int | None = None) -> dict[str, Any]:
    """A song's `Child` from its `catalog.song_rows` row, without the fields it has no value for (so the
    envelope need not walk it again: `envelope.Clean`). A full sync renders 100,000 of these: the row is
    unpacked once and nothing is called per field that a literal can say."""
    (track_id, title, duration, number, genre, release_id, album, day, plays, created, artist, artist_id,
     size, lufs, peak, album_lufs, album_peak) = row  # fmt: skip
    song_id = f"{ids.SONG}-{track_id}"
    album_id = None if release_id is None else f"{ids.ALBUM}-{release_id}"
    out: dict[str, Any] = {"id": song_id}
    if album_id is not None:
        out["parent"] = album_id
    out["isDir"] = False
    out["title"] = title
    if album is not None:
        out["album"] = album
    if artist:
        out["artist"] = artist
    if number is not None:
        out["track"] = number
    if day is not None:
        out["year"] = day.year
    if genre is not None:
        out["genre"] = genre
    out["coverArt"] = song_id
    if size is not None:
        out["size"] = size
    out["contentType"] = "audio/mpeg"
    out["suffix"] = "mp3"
    out["duration"] = round(duration or 0.0)
    out["bitRate"] = 320
    out["isVideo"] = False
    out["playCount"] = plays or 0
    out["created"] = stamp(created)
    if album_id is not None:
        out["albumId"] = album_id
    if artist_id is not None:
        out["artistId"] = f"{ids.ARTIST}-{artist_id}"
    out["type"] = "music"
    out["mediaType"] = "song"
    if starred is not None:
        out["starred"] = stamp(starred)
    if rating is not None:
        out["userRating"] = rating
    if lufs is not None or peak is not None or album_lufs is not None or album_peak is not None:
        gain = replay_gain(lufs, peak, album_lufs, album_peak)
        if gain is not None:
            out["replayGain"] = gain
    return out


def replay_gain(
    lufs: float | None, peak: float | None, album_lufs: float | None, album_peak: float | None
) -> dict[str, float] | None:
    """OpenSubsonic `replayGain` from the ingest's EBU R128 figures (ReplayGain 2.0: -18 LUFS reference,
    peaks as linear amplitude); None until the track was measured."""
    out = {
        "trackGain": loudness.replaygain_gain(lufs),
        "trackPeak": loudness.replaygain_peak(peak),
        "albumGain": loudness.replaygain_gain(album_lufs),
        "albumPeak": loudness.replaygain_peak(album_peak),
    }
    kept = {k: round(v, 2) if k.endswith("Gain") else round(v, 6) for k, v in out.items() if v is not None}
    return kept or None


def album(r: ReleaseFacts, *, starred: datetime | None = None, rating: int | None = None) -> dict[str, Any]:
    """An `AlbumID3`, without the fields it has no value for (a sync page sends 500: `envelope.Clean`)."""
    album_id = f"{ids.ALBUM}-{r.id}"
    out: dict[str, Any] = {"id": album_id, "name": r.title}
    if r.artist_name is not None:
        out["artist"] = r.artist_name
    if r.artist_id is not None:
        out["artistId"] = f"{ids.ARTIST}-{r.artist_id}"
    out["coverArt"] = album_id
    out["songCount"] = r.song_count
    out["duration"] = round(r.duration_sec)
    out["playCount"] = r.play_count
    out["created"] = stamp(r.created_at)
    if r.release_date is not None:
        out["year"] = r.release_date.year
    if r.genre is not None:
        out["genre"] = r.genre
    if starred is not None:
        out["starred"] = stamp(starred)
    if rating is not None:
        out["userRating"] = rating
    return out


def album_folder(
    r: ReleaseFacts, *, starred: datetime | None = None, rating: int | None = None
) -> dict[str, Any]:
    """An album as a folder `Child` (`isDir`), for the folder-based answers: getMusicDirectory of an
    artist, getAlbumList, search2, getStarred."""
    return {
        "id": ids.make(ids.ALBUM, r.id),
        "parent": ids.make(ids.ARTIST, r.artist_id),
        "isDir": True,
        "title": r.title,
        "album": r.title,
        "artist": r.artist_name,
        "year": r.release_date.year if r.release_date else None,
        "genre": r.genre,
        "coverArt": ids.make(ids.ALBUM, r.id),
        "duration": round(r.duration_sec),
        "playCount": r.play_count,
        "created": stamp(r.created_at),
        "starred": stamp(starred),
        "userRating": rating,
        "albumId": ids.make(ids.ALBUM, r.id),
        "artistId": ids.make(ids.ARTIST, r.artist_id),
        "mediaType": "album",
    }


def artist_folder(a: ArtistFacts, *, starred: datetime | None = None) -> dict[str, Any]:
    """An artist as Subsonic's folder-era `Artist` (getIndexes, search2, getStarred)."""
    return {"id": ids.make(ids.ARTIST, a.id), "name": a.name, "starred": stamp(starred)}


def artist(a: ArtistFacts, *, starred: datetime | None = None) -> dict[str, Any]:
    return {
        "id": ids.make(ids.ARTIST, a.id),
        "name": a.name,
        "coverArt": ids.make(ids.ARTIST, a.id),
        "albumCount": a.album_count,
        "starred": stamp(starred),
    }


def playlist(p: Playlist, *, owner: str) -> dict[str, Any]:
    return {
        "id": ids.make(ids.PLAYLIST, p.id),
        "name": p.name,
        "comment": p.description or None,
        "owner": owner,
        "public": p.public,
        "songCount": p.track_count,
        "duration": round(p.duration_ms / 1000),
        "created": stamp(p.created_at),
        "changed": stamp(p.updated_at),
    }
