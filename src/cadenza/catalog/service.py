"""Catalog service functions: create and look up artists, releases and tracks; move a track to another
release, take it down, put it back, delete it, each with its side effects (the album loudness of every
release it touches, the delivery cache; the search index follows the commit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from cadenza.catalog import loudness, visibility
from cadenza.catalog.codes import normalize_isrc, normalize_upc
from cadenza.catalog.models import (
    Artist,
    FingerprintKey,
    LyricLine,
    Release,
    Track,
    TrackArtist,
    TrackStatus,
)
from cadenza.catalog.visibility import Viewer
from cadenza.db.engine import after_commit
from cadenza.errors import Conflict, InvalidInput, NotFound
from cadenza.rights.models import TrackRight
from cadenza.rights.service import TrackCache
from cadenza.text import scrub


@dataclass
class TrackMetadata:
    """What we know about a track before processing: from tags, overridden by form fields."""

    title: str | None = None
    artists: list[str] = field(default_factory=list)
    release_title: str | None = None
    release_date: date | None = None
    upc: str | None = None
    genre: str | None = None
    track_number: int | None = None
    isrc: str | None = None

    def merged(self, override: TrackMetadata) -> TrackMetadata:
        """This metadata with every field that `override` sets replaced."""
        return TrackMetadata(
            title=override.title or self.title,
            artists=override.artists or self.artists,
            release_title=override.release_title or self.release_title,
            release_date=override.release_date or self.release_date,
            upc=override.upc or self.upc,
            genre=override.genre or self.genre,
            track_number=override.track_number if override.track_number is not None else self.track_number,
            isrc=override.isrc or self.isrc,
        )


def _clean(text: str | None, *, limit: int, what: str) -> str | None:
    if text is None:
        return None
    text = scrub(" ".join(text.split()))
    if len(text) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    return text or None


def get_or_create_artist(session: Session, *, name: str) -> Artist:
    clean = _clean(name, limit=500, what="artist name")
    if not clean:
        raise InvalidInput("artist name is empty")
    artist = session.scalar(select(Artist).where(Artist.name == clean).order_by(Artist.id).limit(1))
    if artist is None:
        artist = Artist(name=clean)
        session.add(artist)
        session.flush()
    return artist


def get_or_create_release(
    session: Session, *, title: str, artist: Artist | None, release_date: date | None, upc: str | None
) -> Release:
    clean = _clean(title, limit=500, what="release title")
    if not clean:
        raise InvalidInput("release title is empty")
    upc = normalize_upc(upc)
    query = select(Release).where(Release.title == clean)
    query = query.where(Release.upc == upc) if upc else query
    query = query.where(Release.artist_id == (artist.id if artist else None))
    release = session.scalar(query.order_by(Release.id).limit(1))
    if release is None:
        release = Release(
            title=clean, artist_id=artist.id if artist else None, release_date=release_date, upc=upc
        )
        session.add(release)
        session.flush()
    return release


def create_track(
    session: Session,
    *,
    meta: TrackMetadata,
    source_filename: str | None,
    source_checksum: str,
    source_size: int,
) -> Track:
    """A new track in `processing`, with its artists and release; metadata is validated here."""
    title = _clean(meta.title, limit=500, what="title")
    if not title:
        raise InvalidInput("title is empty")
    if meta.track_number is not None and not 0 < meta.track_number < 10000:
        raise InvalidInput("track number must be between 1 and 9999")
    artists = [get_or_create_artist(session, name=n) for n in _unique(meta.artists) if n.strip()]
    release = None
    if meta.release_title:
        release = get_or_create_release(
            session,
            title=meta.release_title,
            artist=artists[0] if artists else None,
            release_date=meta.release_date,
            upc=meta.upc,
        )
    track = Track(
        title=title,
        isrc=normalize_isrc(meta.isrc),
        genre=_clean(meta.genre, limit=100, what="genre"),
        track_number=meta.track_number,
        release_id=release.id if release else None,
        status=TrackStatus.processing,
        stage="queued",
        source_filename=_clean(source_filename, limit=1000, what="file name"),
        source_checksum=source_checksum,
        source_size=source_size,
    )
    session.add(track)
    session.flush()
    for position, artist in enumerate(artists):
        session.add(TrackArtist(track_id=track.id, artist_id=artist.id, position=position))
    session.flush()
    return track


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(" ".join(name.split()), None)
    return list(seen)


def get_track(session: Session, *, track_id: int) -> Track | None:
    return session.get(Track, track_id)


def get_track_or_raise(session: Session, *, track_id: int) -> Track:
    track = session.get(Track, track_id)
    if track is None:
        raise NotFound(f"track {track_id} not found")
    return track


# Reads for a viewer: every one applies `catalog.visibility`, so no surface states the rule again.
TRACKS_PER_PAGE_MAX = 500


def visible_track(session: Session, *, viewer: Viewer, track_id: int) -> Track:
    """A track `viewer` may see (administrators also see processing and failed tracks)."""
    track = session.get(Track, track_id)
    if track is None or not visibility.is_listable(track, viewer):
        raise NotFound(f"track {track_id} not found")
    return track


def list_tracks(session: Session, *, viewer: Viewer, limit: int = 50, after_id: int = 0) -> list[Track]:
    """Tracks in id order from `after_id` (keyset paging)."""
    query = select(Track).where(Track.id > after_id, visibility.track_condition(viewer))
    return list(session.scalars(query.order_by(Track.id).limit(limit)))


def list_artists(session: Session, *, viewer: Viewer, limit: int = 50, after_id: int = 0) -> list[Artist]:
    """Artists with at least one track `viewer` may see, in id order from `after_id`."""
    query = select(Artist).where(Artist.id > after_id, visibility.artist_condition(viewer))
    return list(session.scalars(query.order_by(Artist.id).limit(limit)))


def list_releases(session: Session, *, viewer: Viewer, limit: int = 50, after_id: int = 0) -> list[Release]:
    """Releases with at least one track `viewer` may see, in id order from `after_id`."""
    query = select(Release).where(Release.id > after_id, visibility.release_condition(viewer))
    return list(session.scalars(query.order_by(Release.id).limit(limit)))


def visible_artist(session: Session, *, viewer: Viewer, artist_id: int) -> tuple[Artist, list[Track]]:
    """An artist and their tracks that `viewer` may see; an artist with none is not found."""
    artist = session.scalar(select(Artist).where(Artist.id == artist_id, visibility.artist_condition(viewer)))
    if artist is None:
        raise NotFound(f"artist {artist_id} not found")
    query = (
        select(Track)
        .join(TrackArtist)
        .where(TrackArtist.artist_id == artist_id, visibility.track_condition(viewer))
        .order_by(Track.id)
    )
    return artist, list(session.scalars(query.limit(TRACKS_PER_PAGE_MAX)))


def visible_release(session: Session, *, viewer: Viewer, release_id: int) -> tuple[Release, list[Track]]:
    """A release and its tracks that `viewer` may see, in track-number order; one with none is not found."""
    release = session.scalar(
        select(Release).where(Release.id == release_id, visibility.release_condition(viewer))
    )
    if release is None:
        raise NotFound(f"release {release_id} not found")
    query = (
        select(Track)
        .where(Track.release_id == release_id, visibility.track_condition(viewer))
        .order_by(Track.track_number, Track.id)
    )
    return release, list(session.scalars(query.limit(TRACKS_PER_PAGE_MAX)))


# Loudness: the track's measurement and the album figure of its release, kept in step (catalog/loudness.py).


def record_loudness(session: Session, *, track: Track, measured: loudness.Loudness) -> None:
    """Store a track's measurement; its release's album figure follows if the track is ready."""
    track.loudness_lufs = measured.integrated_lufs
    track.loudness_range_lu = measured.range_lu
    track.true_peak_dbtp = measured.true_peak_dbtp
    track.loudness_blocks = measured.blocks.to_json()
    if track.release_id is not None and track.status == TrackStatus.ready:
        session.flush()
        refresh_album_loudness(session, release_id=track.release_id)


def refresh_album_loudness(session: Session, *, release_id: int) -> None:
    """The release's album loudness and peak from its ready, measured tracks (ReplayGain 2.0: the gated
    loudness of all its audio together). Called whenever the set of those tracks changes: a track of the
    release becomes ready or is measured again (ingest, reprocess), joins or leaves it (`move_track`),
    is taken down or put back (`take_down`, `reinstate`), or is deleted (`delete_track`). A release
    with no such track left has no album figure (NULL)."""
    release = session.get(Release, release_id)
    if release is None:
        return
    session.flush()  # the change that called this is part of what is read
    rows = session.execute(
        select(Track.loudness_blocks, Track.true_peak_dbtp).where(
            Track.release_id == release_id,
            Track.status == TrackStatus.ready,
            Track.loudness_blocks.is_not(None),
        )
    ).all()
    lufs, peak = loudness.album((loudness.Blocks.from_json(b), p) for b, p in rows)
    release.loudness_lufs = None if lufs is None else round(lufs, 2)
    release.true_peak_dbtp = peak


# Changes to a track that its release's album figure depends on. Each refreshes the album loudness of
# every release it touches, in the same transaction (so no reader sees the track moved and the old
# figure), and drops the track from the per-process delivery cache once it commits where what may be
# streamed changed. The search index follows the same commit (`search.sync`'s session hook and the
# index's triggers: a track that stops being listable leaves it, a moved one is indexed again).
# A refusal changes nothing: NotFound for an unknown (or deleted) track or release, Conflict for a track
# whose state does not allow the change, InvalidInput for a bad value.


def _existing_track(session: Session, track_id: int) -> Track:
    """A track that exists and is not deleted (a tombstone is not found, as for every reader)."""
    track = session.get(Track, track_id)
    if track is None or track.status == TrackStatus.deleted:
        raise NotFound(f"track {track_id} not found")
    return track


def move_track(session: Session, *, track_id: int, release_id: int | None) -> Track:
    """Put a track on another release, or on none (`release_id` None: it leaves its release). The album
    figures of the release it left and of the one it joined are computed again."""
    track = _existing_track(session, track_id)
    if release_id is not None and session.get(Release, release_id) is None:
        raise NotFound(f"release {release_id} not found")
    before = track.release_id
    if before == release_id:
        return track
    track.release_id = release_id
    for touched in (before, release_id):
        if touched is not None:
            refresh_album_loudness(session, release_id=touched)
    return track


def move_track_to_new_release(session: Session, *, track_id: int, title: str, artist_id: int | None) -> Track:
    """Put a track on the release called `title` by the artist `artist_id` (by default the track's first
    credited artist), made now unless that artist already has a release of that title (then the track
    joins it: sending the same request twice makes one release, not two)."""
    track = _existing_track(session, track_id)
    if artist_id is None:
        artist = track.artists[0] if track.artists else None
    else:
        artist = session.get(Artist, artist_id)
        if artist is None:
            raise NotFound(f"artist {artist_id} not found")
    release = get_or_create_release(session, title=title, artist=artist, release_date=None, upc=None)
    return move_track(session, track_id=track_id, release_id=release.id)


def take_down(session: Session, *, track_id: int, reason: str, caches: TrackCache) -> Track:
    """Withdraw a ready track from listeners (a legal claim, a rights dispute): it is no longer listed,
    searchable or playable, stays in playlists as unavailable, and no longer counts in its album's
    loudness. Its media and measurements are kept, so `reinstate` puts it back as it was."""
    track = _existing_track(session, track_id)
    why = _clean(reason, limit=1000, what="reason")
    if not why:
        raise InvalidInput("say why the track is taken down (reason is empty)")
    if track.status != TrackStatus.ready:
        raise Conflict(f"only a ready track can be taken down; track {track_id} is {track.status.value}")
    track.status = TrackStatus.taken_down
    track.failure_reason = why
    _status_changed(session, track, caches)
    return track


def reinstate(session: Session, *, track_id: int, caches: TrackCache) -> Track:
    """Put a taken-down track back: ready, listed and counted in its album again."""
    track = _existing_track(session, track_id)
    if track.status != TrackStatus.taken_down:
        raise Conflict(f"track {track_id} is {track.status.value}, not taken down")
    track.status = TrackStatus.ready
    track.failure_reason = None
    _status_changed(session, track, caches)
    return track


def delete_track(session: Session, *, track_id: int, caches: TrackCache, at: datetime) -> int | None:
    """Delete a track from the catalog, in the caller's transaction; returns the release it was on.

    What goes and what stays (docs/catalog-admin.md; the choice Navidrome makes for a missing file and
    Funkwhale for a deleted upload, with royalties added):

    - **gone**: everything that lets it be played or matched: its variants, its media and source in the
      store (unreferenced here; `ingest.orphans.purge_track` removes the objects after the commit, and
      `cadenza storage gc` would too), waveform, lyrics, fingerprint and fingerprint index entries, its
      place in its album's loudness, its search entry, and it is listed to no one, administrators
      included;
    - **kept**: what the past needs. The row itself stays, as status `deleted`, with its title, ISRC,
      artists, release and play count: its playback sessions and events, the daily rollups and the
      royalty statements built from them point at it (a deleted row would take the events with it).
      Its rights are ended now (`expires_at` = `at`), not deleted, so a statement for a period before
      the deletion still pays their holders. Playlist entries stay, shown unavailable, as do the
      listeners' stars and ratings (as Navidrome keeps annotations).

    A track still processing is refused (its pipeline may publish any moment: delete it once it is
    ready or failed). Deleting a deleted track changes nothing (so a retry can finish the store's
    clean-up)."""
    track = session.get(Track, track_id)
    if track is None:
        raise NotFound(f"track {track_id} not found")
    if track.status == TrackStatus.deleted:
        return track.release_id
    if track.status == TrackStatus.processing:
        raise Conflict(f"track {track_id} is still processing: delete it once it is ready or failed")
    was_ready = track.status == TrackStatus.ready
    track.status = TrackStatus.deleted
    track.stage = None
    track.failure_reason = None
    track.media_prefix = None
    track.waveform_key = None
    track.source_key = None
    track.fingerprint = None
    track.duplicate_of = None
    track.lyrics_source = None
    track.variants.clear()  # delete-orphan: the rows go with the flush
    session.execute(delete(FingerprintKey).where(FingerprintKey.track_id == track_id))
    session.execute(delete(LyricLine).where(LyricLine.track_id == track_id))
    session.execute(update(Track).where(Track.duplicate_of == track_id).values(duplicate_of=None))
    session.execute(
        update(TrackRight)
        .where(
            TrackRight.track_id == track_id, or_(TrackRight.expires_at.is_(None), TrackRight.expires_at > at)
        )
        .values(expires_at=at)
    )
    if was_ready and track.release_id is not None:
        refresh_album_loudness(session, release_id=track.release_id)
    after_commit(session, lambda: caches.drop(track_id))
    return track.release_id


def _status_changed(session: Session, track: Track, caches: TrackCache) -> None:
    if track.release_id is not None:
        refresh_album_loudness(session, release_id=track.release_id)
    track_id = track.id
    after_commit(session, lambda: caches.drop(track_id))
