"""HTTP for the catalog: artists, releases, tracks. Listeners see ready tracks; admins see all."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadenza.accounts.models import Role
from cadenza.accounts.service import Principal
from cadenza.catalog import service
from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackStatus
from cadenza.errors import NotFound
from cadenza.web.deps import AppState, CurrentUser, Id

router = APIRouter(prefix="/api", tags=["catalog"])

Limit = Query(50, ge=1, le=200)
After = Query(0, ge=0, le=2**63 - 1)


class VariantOut(BaseModel):
    quality: str
    codec: str
    container: str
    bitrate_kbps: int | None
    size_bytes: int


class TrackOut(BaseModel):
    id: int
    title: str
    status: str
    stage: str | None
    failure_reason: str | None
    duration_sec: float | None
    isrc: str | None
    genre: str | None
    track_number: int | None
    artists: list[str]
    release_id: int | None
    duplicate_of: int | None
    duplicate_score: float | None
    hifi_unavailable_reason: str | None
    variants: list[VariantOut]
    created_at: datetime

    @classmethod
    def of(cls, t: Track) -> TrackOut:
        return cls(
            id=t.id,
            title=t.title,
            status=t.status.value,
            stage=t.stage,
            failure_reason=t.failure_reason,
            duration_sec=t.duration_sec,
            isrc=t.isrc,
            genre=t.genre,
            track_number=t.track_number,
            artists=[a.name for a in t.artists],
            release_id=t.release_id,
            duplicate_of=t.duplicate_of,
            duplicate_score=t.duplicate_score,
            hifi_unavailable_reason=t.hifi_unavailable_reason,
            variants=[
                VariantOut(
                    quality=v.quality,
                    codec=v.codec,
                    container=v.container,
                    bitrate_kbps=v.bitrate_kbps,
                    size_bytes=v.size_bytes,
                )
                for v in t.variants
            ],
            created_at=t.created_at,
        )


class ArtistOut(BaseModel):
    id: int
    name: str


class ReleaseOut(BaseModel):
    id: int
    title: str
    upc: str | None
    release_date: date | None
    artist: ArtistOut | None


class ArtistDetail(ArtistOut):
    tracks: list[TrackOut]


class ReleaseDetail(ReleaseOut):
    tracks: list[TrackOut]


def _release_out(r: Release) -> ReleaseOut:
    artist = ArtistOut(id=r.artist.id, name=r.artist.name) if r.artist else None
    return ReleaseOut(id=r.id, title=r.title, upc=r.upc, release_date=r.release_date, artist=artist)


def _visible(user: Principal) -> TrackStatus | None:
    return None if user.role == Role.admin else TrackStatus.ready


def _track_visible(s: Session, user: Principal, track_id: int) -> Track:
    track = service.get_track(s, track_id=track_id)
    if track is None or (user.role != Role.admin and track.status != TrackStatus.ready):
        raise NotFound(f"track {track_id} not found")
    return track


@router.get("/tracks", response_model=list[TrackOut])
def list_tracks(
    state: AppState, user: CurrentUser, limit: int = Limit, after_id: int = After
) -> list[TrackOut]:
    """Tracks in id order; page with `after_id` = the last id of the previous page."""
    with state.c.sessions() as s:
        tracks = service.list_tracks(s, status=_visible(user), limit=limit, after_id=after_id)
        return [TrackOut.of(t) for t in tracks]


@router.get("/tracks/{track_id}", response_model=TrackOut)
def get_track(track_id: Id, state: AppState, user: CurrentUser) -> TrackOut:
    """A track; admins also see processing and failed tracks with their stage and reason."""
    with state.c.sessions() as s:
        return TrackOut.of(_track_visible(s, user, track_id))


@router.get("/artists", response_model=list[ArtistOut])
def list_artists(
    state: AppState, _: CurrentUser, limit: int = Limit, after_id: int = After
) -> list[ArtistOut]:
    with state.c.sessions() as s:
        rows = s.scalars(select(Artist).where(Artist.id > after_id).order_by(Artist.id).limit(limit))
        return [ArtistOut(id=a.id, name=a.name) for a in rows]


@router.get("/artists/{artist_id}", response_model=ArtistDetail)
def get_artist(artist_id: Id, state: AppState, user: CurrentUser) -> ArtistDetail:
    with state.c.sessions() as s:
        artist = s.get(Artist, artist_id)
        if artist is None:
            raise NotFound(f"artist {artist_id} not found")
        query = select(Track).join(TrackArtist).where(TrackArtist.artist_id == artist_id).order_by(Track.id)
        if (status := _visible(user)) is not None:
            query = query.where(Track.status == status)
        tracks = [TrackOut.of(t) for t in s.scalars(query.limit(500))]
        return ArtistDetail(id=artist.id, name=artist.name, tracks=tracks)


@router.get("/releases", response_model=list[ReleaseOut])
def list_releases(
    state: AppState, _: CurrentUser, limit: int = Limit, after_id: int = After
) -> list[ReleaseOut]:
    with state.c.sessions() as s:
        rows = s.scalars(select(Release).where(Release.id > after_id).order_by(Release.id).limit(limit))
        return [_release_out(r) for r in rows]


@router.get("/releases/{release_id}", response_model=ReleaseDetail)
def get_release(release_id: Id, state: AppState, user: CurrentUser) -> ReleaseDetail:
    with state.c.sessions() as s:
        release = s.get(Release, release_id)
        if release is None:
            raise NotFound(f"release {release_id} not found")
        query = select(Track).where(Track.release_id == release_id).order_by(Track.track_number, Track.id)
        if (status := _visible(user)) is not None:
            query = query.where(Track.status == status)
        tracks = [TrackOut.of(t) for t in s.scalars(query.limit(500))]
        return ReleaseDetail(**_release_out(release).model_dump(), tracks=tracks)
