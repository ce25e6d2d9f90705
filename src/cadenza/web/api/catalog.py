"""The catalog: artists, releases, tracks, as `catalog.visibility` lets the caller see them."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cadenza.catalog import artwork, service
from cadenza.catalog.artwork import ArtworkRef
from cadenza.catalog.loudness import replaygain_gain, replaygain_peak
from cadenza.catalog.models import Release, Track
from cadenza.web.api.artwork import ArtworkOut
from cadenza.web.deps import MAX_ID, AppState, Id, ViewerDep, user_router

router = user_router(prefix="/api", tags=["catalog"])

Limit = Query(50, ge=1, le=200)
After = Query(0, ge=0, le=MAX_ID)


class VariantOut(BaseModel):
    quality: str
    codec: str
    container: str
    bitrate_kbps: int | None
    size_bytes: int


class AlbumLoudnessOut(BaseModel):
    integrated_lufs: float | None = Field(description="EBU R128 loudness of all the release's ready tracks")
    true_peak_dbtp: float | None
    replaygain_album_gain_db: float | None = Field(description="ReplayGain 2.0: -18 LUFS - loudness")
    replaygain_album_peak: float | None = Field(description="true peak, linear (1.0 = full scale)")

    @classmethod
    def of(cls, r: Release) -> AlbumLoudnessOut | None:
        if r.loudness_lufs is None and r.true_peak_dbtp is None:
            return None
        return cls(
            integrated_lufs=r.loudness_lufs,
            true_peak_dbtp=r.true_peak_dbtp,
            replaygain_album_gain_db=replaygain_gain(r.loudness_lufs),
            replaygain_album_peak=replaygain_peak(r.true_peak_dbtp),
        )


class LoudnessOut(BaseModel):
    """EBU R128 / ITU-R BS.1770-4 figures and the ReplayGain 2.0 values derived from them; the player
    applies the gain (no loudness-normalised rendition is made)."""

    integrated_lufs: float | None = Field(description="None: silent")
    range_lu: float | None
    true_peak_dbtp: float | None
    replaygain_track_gain_db: float | None
    replaygain_track_peak: float | None
    album: AlbumLoudnessOut | None = Field(description="the release's figures, if the track has one")

    @classmethod
    def of(cls, t: Track) -> LoudnessOut | None:
        if t.loudness_blocks is None:
            return None  # not measured yet
        return cls(
            integrated_lufs=t.loudness_lufs,
            range_lu=t.loudness_range_lu,
            true_peak_dbtp=t.true_peak_dbtp,
            replaygain_track_gain_db=replaygain_gain(t.loudness_lufs),
            replaygain_track_peak=replaygain_peak(t.true_peak_dbtp),
            album=AlbumLoudnessOut.of(t.release) if t.release is not None else None,
        )


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
    artwork: ArtworkOut | None = Field(description="the track's cover, else its release's")
    loudness: LoudnessOut | None = Field(default=None, description="None until measured")

    @classmethod
    def of(cls, t: Track, art: dict[int, ArtworkRef]) -> TrackOut:
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
            artwork=_art(art, t.id),
            loudness=LoudnessOut.of(t),
        )


class ArtistOut(BaseModel):
    id: int
    name: str
    artwork: ArtworkOut | None = Field(default=None, description="the cover of their latest release")


class ReleaseOut(BaseModel):
    id: int
    title: str
    upc: str | None
    release_date: date | None
    artist: ArtistOut | None
    artwork: ArtworkOut | None = None
    loudness: AlbumLoudnessOut | None = None


class ArtistDetail(ArtistOut):
    tracks: list[TrackOut]


class ReleaseDetail(ReleaseOut):
    tracks: list[TrackOut]


def _art(refs: dict[int, ArtworkRef], key: int) -> ArtworkOut | None:
    ref = refs.get(key)
    return ArtworkOut.of(ref) if ref else None


def tracks_out(s: Session, tracks: list[Track]) -> list[TrackOut]:
    """The tracks as the API shows them (with their covers, in two reads); also the answer of the
    administrators' changes (`catalog_admin`)."""
    art = artwork.for_tracks(s, track_ids=[t.id for t in tracks])
    return [TrackOut.of(t, art) for t in tracks]


def _releases_out(s: Session, releases: list[Release]) -> list[ReleaseOut]:
    art = artwork.for_releases(s, release_ids=[r.id for r in releases])
    artists_art = artwork.for_artists(s, artist_ids=sorted({r.artist.id for r in releases if r.artist}))
    return [
        ReleaseOut(
            id=r.id,
            title=r.title,
            upc=r.upc,
            release_date=r.release_date,
            artist=ArtistOut(id=r.artist.id, name=r.artist.name, artwork=_art(artists_art, r.artist.id))
            if r.artist
            else None,
            artwork=_art(art, r.id),
            loudness=AlbumLoudnessOut.of(r),
        )
        for r in releases
    ]


@router.get("/tracks", response_model=list[TrackOut])
def list_tracks(
    viewer: ViewerDep, state: AppState, limit: int = Limit, after_id: int = After
) -> list[TrackOut]:
    """Tracks in id order; page with `after_id` = the last id of the previous page."""
    with state.c.sessions() as s:
        return tracks_out(s, service.list_tracks(s, viewer=viewer, limit=limit, after_id=after_id))


@router.get("/tracks/{track_id}", response_model=TrackOut)
def get_track(track_id: Id, viewer: ViewerDep, state: AppState) -> TrackOut:
    """A track; admins also see processing and failed tracks with their stage and reason."""
    with state.c.sessions() as s:
        return tracks_out(s, [service.visible_track(s, viewer=viewer, track_id=track_id)])[0]


@router.get("/artists", response_model=list[ArtistOut])
def list_artists(
    viewer: ViewerDep, state: AppState, limit: int = Limit, after_id: int = After
) -> list[ArtistOut]:
    """Artists with at least one track you can see, in id order."""
    with state.c.sessions() as s:
        rows = service.list_artists(s, viewer=viewer, limit=limit, after_id=after_id)
        art = artwork.for_artists(s, artist_ids=[a.id for a in rows])
        return [ArtistOut(id=a.id, name=a.name, artwork=_art(art, a.id)) for a in rows]


@router.get("/artists/{artist_id}", response_model=ArtistDetail)
def get_artist(artist_id: Id, viewer: ViewerDep, state: AppState) -> ArtistDetail:
    with state.c.sessions() as s:
        artist, tracks = service.visible_artist(s, viewer=viewer, artist_id=artist_id)
        art = artwork.for_artists(s, artist_ids=[artist.id])
        return ArtistDetail(
            id=artist.id, name=artist.name, artwork=_art(art, artist.id), tracks=tracks_out(s, tracks)
        )


@router.get("/releases", response_model=list[ReleaseOut])
def list_releases(
    viewer: ViewerDep, state: AppState, limit: int = Limit, after_id: int = After
) -> list[ReleaseOut]:
    """Releases with at least one track you can see, in id order."""
    with state.c.sessions() as s:
        return _releases_out(s, service.list_releases(s, viewer=viewer, limit=limit, after_id=after_id))


@router.get("/releases/{release_id}", response_model=ReleaseDetail)
def get_release(release_id: Id, viewer: ViewerDep, state: AppState) -> ReleaseDetail:
    with state.c.sessions() as s:
        release, tracks = service.visible_release(s, viewer=viewer, release_id=release_id)
        [out] = _releases_out(s, [release])
        return ReleaseDetail(**out.model_dump(), tracks=tracks_out(s, tracks))
