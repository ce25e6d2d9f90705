"""How the library shows a track wherever it lists one (playlists, favourites, recently played, the
queue): title, artists, release, duration, and whether the viewer may play it now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.catalog.models import Artist, Release, Track, TrackArtist


@dataclass(frozen=True)
class TrackInfo:
    id: int
    title: str
    artists: tuple[str, ...]
    release_id: int | None
    release_title: str | None
    duration_sec: float | None


def track_info(session: Session, *, track_ids: Iterable[int]) -> dict[int, TrackInfo]:
    """Display facts of `track_ids` that still exist, in two queries whatever their number."""
    ids = sorted(set(track_ids))
    if not ids:
        return {}
    artists: dict[int, list[str]] = {}
    query = (
        select(TrackArtist.track_id, Artist.name)
        .join(Artist, Artist.id == TrackArtist.artist_id)
        .where(TrackArtist.track_id.in_(ids))
        .order_by(TrackArtist.track_id, TrackArtist.position)
    )
    for track_id, name in session.execute(query):
        artists.setdefault(track_id, []).append(name)
    query = (
        select(Track.id, Track.title, Track.release_id, Release.title, Track.duration_sec)
        .outerjoin(Release, Release.id == Track.release_id)
        .where(Track.id.in_(ids))
    )
    return {
        tid: TrackInfo(tid, title, tuple(artists.get(tid, ())), release_id, release_title, duration)
        for tid, title, release_id, release_title, duration in session.execute(query)
    }


def duration_ms(duration_sec: float | None) -> int:
    return round(duration_sec * 1000) if duration_sec else 0
