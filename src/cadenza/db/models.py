"""Imports every domain's models so that `Base.metadata` is complete (for Alembic and tests)."""

from cadenza.accounts.models import Role, Tier, User
from cadenza.accounts.subsonic_credentials import SubsonicCredential
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
from cadenza.ingest.models import ImportBatch, ImportItem
from cadenza.library.bookmarks import Bookmark
from cadenza.library.models import ArtistMark, Playlist, PlaylistEntry, PlayQueue, ReleaseMark, TrackMark
from cadenza.protection.models import ContentKey, ProtectionPolicy
from cadenza.rights.models import RightsHolder, RightType, TrackRight
from cadenza.royalties.models import PlaybackEvent, PlaybackSession

__all__ = [
    "Artist",
    "ArtistMark",
    "Artwork",
    "Base",
    "Bookmark",
    "ContentKey",
    "FingerprintKey",
    "ImportBatch",
    "ImportItem",
    "PlayQueue",
    "PlaybackEvent",
    "PlaybackSession",
    "Playlist",
    "PlaylistEntry",
    "ProtectionPolicy",
    "Release",
    "ReleaseMark",
    "RightType",
    "RightsHolder",
    "Role",
    "SubsonicCredential",
    "Tier",
    "Track",
    "TrackArtist",
    "TrackMark",
    "TrackRight",
    "TrackStatus",
    "TrackVariant",
    "User",
]
