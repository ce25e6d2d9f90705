"""What a principal may see and play, defined once for every surface (REST API, search, playlists,
OpenSubsonic, the player).

Two questions, two answers:

- **listable**: the catalog shows it. Administrators see every track (processing and failed ones with
  their stage and reason); everyone else sees a track once it is ready (the pipeline marks a track
  ready only after its media is published). An artist or a release is listable while at least one of
  its tracks is; a name whose only tracks failed or are still processing stays out of every listing, as
  it stays out of search.
- **playable**: the listener may start it now, in their territory: listable, and a live `stream` right
  covers the territory (`rights.policy.can_stream`, the same rule the stream endpoint applies). A track
  in a playlist that is no longer playable stays in the playlist, marked unavailable.

The SQL conditions below and `rights.policy` are the only statements of these rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.orm import Session

from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackStatus
from cadenza.db.lists import one_of
from cadenza.rights import policy
from cadenza.rights.models import RightType, TrackRight


@dataclass(frozen=True)
class Viewer:
    """Who is looking: enough to decide visibility without a database session."""

    user_id: int | None
    is_admin: bool = False
    territory: str | None = None  # where the request comes from (None: unknown, only worldwide rights)


ANONYMOUS = Viewer(user_id=None)


def listable_track() -> ColumnElement[bool]:
    """Ready: what listeners see of the catalog (one condition for every listing and the search index)."""
    return Track.status == TrackStatus.ready


def track_condition(viewer: Viewer) -> ColumnElement[bool]:
    """The tracks `viewer` may see listed."""
    return true() if viewer.is_admin else listable_track()


def artist_condition(viewer: Viewer) -> ColumnElement[bool]:
    """Artists with at least one track `viewer` may see."""
    if viewer.is_admin:
        return true()
    return exists(
        select(TrackArtist.track_id)
        .join(Track, Track.id == TrackArtist.track_id)
        .where(TrackArtist.artist_id == Artist.id, listable_track())
    )


def release_condition(viewer: Viewer) -> ColumnElement[bool]:
    """Releases with at least one track `viewer` may see."""
    if viewer.is_admin:
        return true()
    return exists(select(Track.id).where(Track.release_id == Release.id, listable_track()))


def is_listable(track: Track, viewer: Viewer) -> bool:
    """`track_condition` for a track already loaded."""
    return viewer.is_admin or track.status == TrackStatus.ready


def playable_ids(session: Session, *, viewer: Viewer, track_ids: Iterable[int], at: datetime) -> set[int]:
    """Of `track_ids`, those `viewer` may stream now: listable to a listener (even for an administrator,
    since unpublished media cannot play), with published media and a live stream right for the viewer's
    territory (the checks `delivery.service.authorize_stream` makes)."""
    ids = sorted(set(track_ids))
    if not ids:
        return set()
    published = and_(listable_track(), Track.media_prefix.is_not(None), Track.media_prefix != "")
    ready = set(session.scalars(select(Track.id).where(one_of(session, Track.id, ids), published)))
    if not ready:
        return set()
    rights: dict[int, list[policy.Right]] = {}
    query = select(TrackRight.track_id, TrackRight.right_type, TrackRight.territory, TrackRight.expires_at)
    query = query.where(
        one_of(session, TrackRight.track_id, sorted(ready)),
        TrackRight.right_type == RightType.stream,
        or_(TrackRight.expires_at.is_(None), TrackRight.expires_at > at),
    )
    for track_id, right_type, territory, expires_at in session.execute(query):
        rights.setdefault(track_id, []).append(policy.Right(right_type.value, territory, expires_at))
    return {t for t in ready if policy.can_stream(rights.get(t, ()), viewer.territory, at)}
