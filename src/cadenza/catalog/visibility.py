"""What a principal may see and play, defined once for every surface (REST API, search, playlists,
OpenSubsonic, the player).

Two questions, two answers:

- **listable**: the catalog shows it. Administrators see every track that exists (processing, failed
  and taken-down ones with their stage and reason), not the tombstones of deleted ones; everyone else
  sees a track once it is ready (the pipeline marks a track ready only after its media is published)
  and until it is taken down or deleted. An artist or a release is listable while at least one of
  its tracks is; a name whose only tracks failed or are still processing stays out of every listing, as
  it stays out of search.
- **playable**: the listener may start it now, in their territory: listable, and a live `stream` right
  covers the territory (`rights.policy.can_stream`, the same rule the stream endpoint applies;
  `playable_condition` is that rule in SQL, for listings, and a test holds the two to the same cases).
  A track in a playlist that is no longer playable stays in the playlist, marked unavailable.

The SQL conditions below and `rights.policy` are the only statements of these rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, bindparam, exists, or_, select, true
from sqlalchemy.orm import Session

from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackStatus
from cadenza.db.base import UTCDateTime
from cadenza.db.lists import dialect_of, in_list, list_value
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
    return Track.status != TrackStatus.deleted if viewer.is_admin else listable_track()


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
    """Releases with at least one track `viewer` may see. For a listener that is the release's count of
    listable tracks (`Release.listed_tracks`, which the database keeps from `listable_track`: migration
    0015, held to `listed_release_condition` by tests), one column read rather than a probe of its tracks
    (an album list in any order would otherwise hash every track of the catalog)."""
    if viewer.is_admin:
        return true()
    return Release.listed_tracks > 0


def listed_release_condition() -> ColumnElement[bool]:
    """What `Release.listed_tracks > 0` stands for, stated on the tracks: the definition the stored
    counts are tested against."""
    return exists(select(Track.id).where(Track.release_id == Release.id, listable_track()))


def is_listable(track: Track, viewer: Viewer) -> bool:
    """`track_condition` for a track already loaded."""
    if viewer.is_admin:
        return track.status != TrackStatus.deleted
    return track.status == TrackStatus.ready


def playable_condition() -> ColumnElement[bool]:
    """The tracks the viewer may stream now, as SQL on `Track` rows: listable to a listener (even for an
    administrator, since unpublished media cannot play), with published media and a live stream right
    for the viewer's territory (the checks `delivery.service.authorize_stream` makes with
    `rights.policy.can_stream`, here as an EXISTS against `track_rights`, so a listing can carry
    availability in the statement that reads its rows).

    Built with bound parameters, not values, so a statement holding it is built once and stays one cached,
    prepared text: bind `playable_params(viewer, at)` when executing it. On a row whose track is missing
    (an outer join) it is NULL, which means not playable."""
    territory = bindparam("playable_territory", type_=String())
    live_right = exists().where(
        TrackRight.track_id == Track.id,
        TrackRight.right_type == RightType.stream,
        or_(TrackRight.territory.is_(None), TrackRight.territory == territory),
        or_(
            TrackRight.expires_at.is_(None),
            TrackRight.expires_at > bindparam("playable_at", type_=UTCDateTime()),
        ),
    )
    return and_(listable_track(), Track.media_prefix.is_not(None), Track.media_prefix != "", live_right)


def playable_params(viewer: Viewer, at: datetime) -> dict[str, Any]:
    """The values `playable_condition` binds: the viewer's territory as `rights.policy` compares it
    (upper case; none, only worldwide rights) and the moment."""
    return {"playable_territory": viewer.territory.upper() if viewer.territory else None, "playable_at": at}


def playable_ids(session: Session, *, viewer: Viewer, track_ids: Iterable[int], at: datetime) -> set[int]:
    """Of `track_ids`, those `viewer` may stream now (`playable_condition`), in one statement."""
    ids = sorted(set(track_ids))
    if not ids:
        return set()
    dialect = dialect_of(session)
    params = {"ids": list_value(dialect, ids), **playable_params(viewer, at)}
    return set(session.scalars(_playable_query(dialect), params))


@cache
def _playable_query(dialect: str) -> Select[tuple[int]]:
    """Built once per dialect: a listing asks for up to a page of tracks at a time, and building and keying
    a statement costs as much as running it."""
    return select(Track.id).where(in_list(dialect, Track.id), playable_condition())
