"""Discovery: getTopSongs, getSimilarSongs(2), getArtistInfo(2), getAlbumInfo(2), getLyrics.

Cadenza keeps no biographies, external links or listening-similarity data, so the info answers carry
no notes (a valid, empty `artistInfo`/`albumInfo` for an item the caller may see, 70 otherwise), and
"similar" is what the catalog does know: the seed's artists' most played tracks, then tracks of its
genre at random. Top songs are an artist's tracks by play count (`tracks.play_count`, the counted
streams)."""

from __future__ import annotations

from typing import Any

from cadenza.catalog import browse, lyrics
from cadenza.db.engine import reading
from cadenza.errors import NotFound
from cadenza.search import service as search
from cadenza.web.subsonic import ids
from cadenza.web.subsonic.browsing import songs_out
from cadenza.web.subsonic.envelope import NOT_FOUND, SubsonicError
from cadenza.web.subsonic.registry import Call, method

DEFAULT_COUNT = 50


def _count(call: Call) -> int:
    return call.params.integer("count", default=DEFAULT_COUNT, lo=1, hi=browse.MAX_PAGE) or DEFAULT_COUNT


@method("getTopSongs")
def get_top_songs(call: Call) -> dict[str, Any]:
    name = call.params.required("artist", max_length=500)
    viewer, size = call.viewer, _count(call)
    with reading(call.state.c.sessions) as s:
        artist_ids = browse.artist_ids_named(s, viewer=viewer, name=name.strip())
        track_ids = browse.top_track_ids(s, viewer=viewer, artist_ids=artist_ids, size=size)
        return {"topSongs": {"song": songs_out(s, viewer, track_ids)}}


def _similar(call: Call, raw_id: str) -> list[dict[str, Any]]:
    kind, number = ids.split(raw_id)
    viewer, size = call.viewer, _count(call)
    with reading(call.state.c.sessions) as s:
        if kind == ids.SONG:
            seed = browse.songs(s, viewer=viewer, track_ids=[number])
            if not seed:
                raise SubsonicError(NOT_FOUND, "song not found")
            artist_ids, genre, exclude = [a for a, _ in seed[0].artists], seed[0].genre, [number]
        elif kind == ids.ALBUM:
            album = browse.releases(s, viewer=viewer, release_ids=[number])
            if not album:
                raise SubsonicError(NOT_FOUND, "album not found")
            artist_ids = [album[0].artist_id] if album[0].artist_id else []
            genre = album[0].genre
            exclude = browse.track_ids_of_release(s, viewer=viewer, release_id=number)
        elif kind == ids.ARTIST:
            if not browse.artists(s, viewer=viewer, artist_ids=[number]):
                raise SubsonicError(NOT_FOUND, "artist not found")
            artist_ids, exclude = [number], []
            top = browse.top_track_ids(s, viewer=viewer, artist_ids=artist_ids, size=1)
            found = browse.songs(s, viewer=viewer, track_ids=top)
            genre = found[0].genre if found else None
        else:
            raise SubsonicError(NOT_FOUND, "not a song, album or artist")
        by_artist = browse.top_track_ids(
            s, viewer=viewer, artist_ids=artist_ids, size=max(size // 2, 1), exclude=exclude
        )
        by_genre = (
            browse.track_ids_by(s, viewer=viewer, size=size, genre=genre, shuffled=True) if genre else []
        )
        chosen = list(dict.fromkeys(t for t in by_artist + by_genre if t not in exclude))[:size]
        return songs_out(s, viewer, chosen)


@method("getSimilarSongs")
def get_similar_songs(call: Call) -> dict[str, Any]:
    return {"similarSongs": {"song": _similar(call, call.params.required("id", max_length=30))}}


@method("getSimilarSongs2")
def get_similar_songs2(call: Call) -> dict[str, Any]:
    artist_id = call.params.required("id", max_length=30)
    ids.parse(artist_id, ids.ARTIST)
    return {"similarSongs2": {"song": _similar(call, artist_id)}}


def _visible(call: Call, raw_id: str, kinds: tuple[str, ...]) -> None:
    kind, number = ids.split(raw_id)
    if kind not in kinds:
        raise SubsonicError(NOT_FOUND, "no such item")
    with reading(call.state.c.sessions) as s:
        found = {
            ids.ARTIST: lambda: browse.artists(s, viewer=call.viewer, artist_ids=[number]),
            ids.ALBUM: lambda: browse.releases(s, viewer=call.viewer, release_ids=[number]),
            ids.SONG: lambda: browse.songs(s, viewer=call.viewer, track_ids=[number]),
        }[kind]()
    if not found:
        raise SubsonicError(NOT_FOUND, "no such item")


@method("getArtistInfo")
def get_artist_info(call: Call) -> dict[str, Any]:
    """No biography or similar artists are kept: a valid empty answer for an artist the caller may see
    (clients show the artist's own cover art)."""
    _visible(call, call.params.required("id", max_length=30), (ids.ARTIST, ids.ALBUM, ids.SONG))
    return {"artistInfo": {}}


@method("getArtistInfo2")
def get_artist_info2(call: Call) -> dict[str, Any]:
    _visible(call, call.params.required("id", max_length=30), (ids.ARTIST,))
    return {"artistInfo2": {}}


@method("getAlbumInfo")
def get_album_info(call: Call) -> dict[str, Any]:
    _visible(call, call.params.required("id", max_length=30), (ids.ALBUM, ids.SONG))
    return {"albumInfo": {}}


@method("getAlbumInfo2")
def get_album_info2(call: Call) -> dict[str, Any]:
    _visible(call, call.params.required("id", max_length=30), (ids.ALBUM,))
    return {"albumInfo": {}}


@method("getLyrics")
def get_lyrics(call: Call) -> dict[str, Any]:
    """The plain lyrics of the best search match for `artist` and `title` whose title is `title`
    (ignoring case); an empty `lyrics` element when there is none (as the spec answers)."""
    p = call.params
    artist = (p.text("artist", max_length=500) or "").strip()
    title = (p.text("title", max_length=500) or "").strip()
    if not title:
        return {"lyrics": {}}
    with reading(call.state.c.sessions) as s:
        hits = search.search(s, q=f"{artist} {title}".strip(), type="track", limit=10, facets=False).hits
        for hit in hits:
            try:
                track, found = lyrics.visible(s, viewer=call.viewer, track_id=hit.id)
            except NotFound:  # a hit the caller may not see is skipped
                continue
            if track.title.casefold() != title.casefold() or found is None:
                continue
            text = "\n".join(line.text for line in found.lines)
            names = ", ".join(a.name for a in track.artists) or None
            return {"lyrics": {"artist": names, "title": track.title, "value": text}}
    return {"lyrics": {}}
