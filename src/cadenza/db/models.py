"""Imports every domain's models so that `Base.metadata` is complete (for Alembic and tests)."""

from cadenza.accounts.models import LibraryEntry, Playlist, PlaylistTrack, Role, Tier, User
from cadenza.catalog.models import (
    Artist,
    Artwork,
    FingerprintKey,
    Release,
    Track,
    TrackArtist,
    TrackStatus,
    TrackVariant,
)
from cadenza.db.base import Base
from cadenza.rights.models import RightsHolder, RightType, TrackRight
from cadenza.royalties.models import PlaybackEvent, PlaybackSession

__all__ = [
    "Artist",
    "Artwork",
    "Base",
    "FingerprintKey",
    "LibraryEntry",
    "PlaybackEvent",
    "PlaybackSession",
    "Playlist",
    "PlaylistTrack",
    "Release",
    "RightType",
    "RightsHolder",
    "Role",
    "Tier",
    "Track",
    "TrackArtist",
    "TrackRight",
    "TrackStatus",
    "TrackVariant",
    "User",
]
