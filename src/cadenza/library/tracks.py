"""How the library shows a track wherever it lists one (playlists, favourites, recently played, the
queue): title, artists, release, duration. Whether the viewer may play it is `catalog.visibility`'s."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.catalog.models import Artist, Release, Track, TrackArtist
from cadenza.db.lists import one_of


@dataclass(frozen=True)
class TrackInfo:
    id: int
    title: str
    artists: tuple[str, ...]
    release_id: int | None
    release_title: str | None
    duration_sec: float | None


def artists_of(session: Session, *, track_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Each track's artist names in credit order (tracks without artists are left out)."""
    ids = sorted(set(track_ids))
    if not ids:
        return {}
    found: dict[int, list[str]] = {}
    query = (
        select(TrackArtist.track_id, Artist.name)
        .join(Artist, Artist.id == TrackArtist.artist_id)
        .where(one_of(session, TrackArtist.track_id, ids))
        .order_by(TrackArtist.track_id, TrackArtist.position)
    )
    for track_id, name in session.execute(query):
        found.setdefault(track_id, []).append(name)
    return {t: tuple(names) for t, names in found.items()}


def track_info(session: Session, *, track_ids: Iterable[int]) -> dict[int, TrackInfo]:
    """Display facts of `track_ids` that still exist, in two queries whatever their number."""
    ids = sorted(set(track_ids))
    if not ids:
        return {}
    artists = artists_of(session, track_ids=ids)
    query = (
        select(Track.id, Track.title, Track.release_id, Release.title, Track.duration_sec)
        .outerjoin(Release, Release.id == Track.release_id)
        .where(one_of(session, Track.id, ids))
    )
    return {
        tid: TrackInfo(tid, title, artists.get(tid, ()), release_id, release_title, duration)
        for tid, title, release_id, release_title, duration in session.execute(query)
    }


def duration_ms(duration_sec: float | None) -> int:
    return round(duration_sec * 1000) if duration_sec else 0
