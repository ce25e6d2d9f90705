"""Catalog and listeners for the library's tests: tracks made straight through the models (no audio
needed), with the rights that make them playable or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from cadenza.accounts.models import Role, User
from cadenza.catalog.models import Artist, Release, Track, TrackArtist, TrackStatus
from cadenza.catalog.visibility import Viewer
from cadenza.db.engine import transaction
from cadenza.rights import service as rights


@dataclass
class World:
    """Ids by name: tracks `t0`... are ready with a worldwide stream right unless named otherwise."""

    tracks: dict[str, int] = field(default_factory=dict)
    releases: dict[str, int] = field(default_factory=dict)
    artists: dict[str, int] = field(default_factory=dict)


def add_track(
    s: Session,
    *,
    title: str,
    artist: str = "Ana",
    release: str | None = "First",
    duration: float = 200.0,
    status: TrackStatus = TrackStatus.ready,
    territory: str | None = None,
    stream_right: bool = True,
    expires_at: datetime | None = None,
    isrc: str | None = None,
) -> Track:
    """A track with one artist, an optional release and (optionally) a stream right."""
    artist_row = s.query(Artist).filter_by(name=artist).one_or_none() or Artist(name=artist)
    s.add(artist_row)
    s.flush()
    release_id = None
    if release:
        rel = s.query(Release).filter_by(title=release).one_or_none() or Release(
            title=release, artist_id=artist_row.id
        )
        s.add(rel)
        s.flush()
        release_id = rel.id
    published = status == TrackStatus.ready
    track = Track(
        title=title,
        status=status,
        duration_sec=duration,
        media_prefix=f"tracks/{title}/v1" if published else None,
        release_id=release_id,
        isrc=isrc,
    )
    s.add(track)
    s.flush()
    s.add(TrackArtist(track_id=track.id, artist_id=artist_row.id, position=0))
    if stream_right:
        holder = rights.get_or_create_holder(s, name="Label")
        rights.grant(
            s,
            track_id=track.id,
            right_type="stream",
            territory=territory,
            holder_id=holder.id,
            expires_at=expires_at,
        )
    s.flush()
    return track


def add_user(sessions: sessionmaker[Session], email: str, *, admin: bool = False) -> Viewer:
    with transaction(sessions) as s:
        user = User(
            email=email,
            display_name=email.split("@")[0],
            password_hash="-",
            role=Role.admin if admin else Role.listener,
        )
        s.add(user)
        s.flush()
        return Viewer(user_id=user.id, is_admin=admin, territory="DE")


def seed_tracks(sessions: sessionmaker[Session], n: int, *, prefix: str = "t") -> list[int]:
    with transaction(sessions) as s:
        return [add_track(s, title=f"{prefix}{i}", duration=100.0 + i).id for i in range(n)]
