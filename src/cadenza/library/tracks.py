"""How the library shows a track wherever it lists one (playlists, favourites, recently played, the
queue): title, artists, release, duration, artwork (in the catalog API's shape: `catalog.artwork`'s rule
and references). Whether the viewer may play it is `catalog.visibility`'s."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cadenza.catalog.artwork import ArtworkRef, ref_from_row, track_artwork_id
from cadenza.catalog.models import Artist, Artwork, Release, Track, TrackArtist
from cadenza.db.lists import dialect_of, in_list, list_value, one_of


@dataclass(frozen=True)
class TrackInfo:
    id: int
    title: str
    artists: tuple[str, ...]
    release_id: int | None
    release_title: str | None
    duration_sec: float | None
    artwork: ArtworkRef | None = None  # the track's cover, else its release's


def artists_of(session: Session, *, track_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Each track's artist names in credit order (tracks without artists are left out)."""
    ids = sorted(set(track_ids))
    if not ids:
        return {}
    dialect = dialect_of(session)
    found: dict[int, list[str]] = {}
    for track_id, name in session.execute(_artists_query(dialect), {"ids": list_value(dialect, ids)}):
        found.setdefault(track_id, []).append(name)
    return {t: tuple(names) for t, names in found.items()}


@cache
def _artists_query(dialect: str) -> Select[tuple[int, str]]:
    """Built once per dialect (see `db.lists`): a playlist page runs it every time."""
    return (
        select(TrackArtist.track_id, Artist.name)
        .join(Artist, Artist.id == TrackArtist.artist_id)
        .where(in_list(dialect, TrackArtist.track_id))
        .order_by(TrackArtist.track_id, TrackArtist.position)
    )


def track_info(session: Session, *, track_ids: Iterable[int]) -> dict[int, TrackInfo]:
    """Display facts of `track_ids` that still exist, in two queries whatever their number (the artwork
    is joined into the second)."""
    ids = sorted(set(track_ids))
    if not ids:
        return {}
    artists = artists_of(session, track_ids=ids)
    query = (
        select(Track.id, Track.title, Track.release_id, Release.title, Track.duration_sec)
        .add_columns(Artwork.id, Artwork.sha256, Artwork.width, Artwork.height, Artwork.variants)
        .outerjoin(Release, Release.id == Track.release_id)
        .outerjoin(Artwork, Artwork.id == track_artwork_id())
        .where(one_of(session, Track.id, ids))
    )
    return {
        tid: TrackInfo(tid, title, artists.get(tid, ()), release_id, release, duration, ref_from_row(*art))
        for tid, title, release_id, release, duration, *art in session.execute(query)
    }


def duration_ms(duration_sec: float | None) -> int:
    return round(duration_sec * 1000) if duration_sec else 0
