"""Catalog tables: artists, releases, tracks, their variants, artwork and fingerprint index."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cadenza.db.base import Base, BigId, UTCDateTime, utcnow


class TrackStatus(enum.StrEnum):
    processing = "processing"
    ready = "ready"
    failed = "failed"
    taken_down = "taken_down"  # withdrawn by an administrator (`catalog.service.take_down`); media kept
    # Removed by an administrator (`catalog.service.delete_track`): the row stays as the anchor of its
    # play history and royalty lines; its media, variants, lyrics and fingerprint are gone.
    deleted = "deleted"


class Artist(Base):
    __tablename__ = "artists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_artists_name", "name"),)


class Artwork(Base):
    """One cover image, stored once per content hash (catalog/artwork.py makes and names its objects).

    `variants` lists the square boxes that were rendered, each in WebP and JPEG:
    [{"size": 300, "width": 300, "height": 240}, ...]; only boxes no larger than the original exist."""

    __tablename__ = "artworks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(32))  # of the original as uploaded
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    variants: Mapped[list[dict[str, int]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Release(Base):
    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    upc: Mapped[str | None] = mapped_column(String(14))
    release_date: Mapped[date | None] = mapped_column(Date)
    artwork_id: Mapped[int | None] = mapped_column(ForeignKey("artworks.id"))
    artist_id: Mapped[int | None] = mapped_column(ForeignKey("artists.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Album loudness over the release's ready tracks (catalog/loudness.py), kept by `refresh_album_loudness`.
    loudness_lufs: Mapped[float | None] = mapped_column(Float)
    true_peak_dbtp: Mapped[float | None] = mapped_column(Float)

    # The release's listed tracks (`catalog.visibility.listable_track`): how many, their length, plays and
    # greatest genre, kept by the database's triggers in the statement that changes a track (migration
    # 0015), never written by the application; read by listings instead of aggregating tracks per page.
    listed_tracks: Mapped[int] = mapped_column(Integer, server_default="0")
    listed_seconds: Mapped[float] = mapped_column(Float, server_default="0")
    listed_plays: Mapped[int] = mapped_column(BigInteger, server_default="0")
    listed_genre: Mapped[str | None] = mapped_column(String(100))

    artist: Mapped[Artist | None] = relationship()
    artwork: Mapped[Artwork | None] = relationship()

    __table_args__ = (
        CheckConstraint("upc IS NULL OR length(upc) BETWEEN 12 AND 14", name="upc_length"),
        Index("ix_releases_artist_id", "artist_id"),  # an artist's albums; visibility of artists
        Index("ix_releases_created_at_id", "created_at", "id"),  # album lists: newest, byGenre
        Index("ix_releases_lower_title_id", text("lower(title)"), "id"),  # album lists: by name
    )


class Track(Base):
    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    duration_sec: Mapped[float | None] = mapped_column(Float)
    isrc: Mapped[str | None] = mapped_column(CHAR(12))
    status: Mapped[TrackStatus] = mapped_column(
        Enum(TrackStatus, name="track_status", native_enum=False, length=16), default=TrackStatus.processing
    )
    stage: Mapped[str | None] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    genre: Mapped[str | None] = mapped_column(String(100))
    track_number: Mapped[int | None] = mapped_column(Integer)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id", ondelete="SET NULL"))

    source_key: Mapped[str | None] = mapped_column(String(1000))
    source_filename: Mapped[str | None] = mapped_column(String(1000))
    source_checksum: Mapped[str | None] = mapped_column(String(64))
    source_size: Mapped[int | None] = mapped_column(BigInteger)
    source_info: Mapped[dict[str, object] | None] = mapped_column(JSON)
    hifi_unavailable_reason: Mapped[str | None] = mapped_column(Text)
    # The cover embedded in the file's tags; `artwork_problem` says why an embedded picture was not used.
    artwork_id: Mapped[int | None] = mapped_column(ForeignKey("artworks.id"))
    artwork_problem: Mapped[str | None] = mapped_column(Text)

    # EBU R128 measured during the transcode (ingest/loudness.py); blocks: the gating histogram that the
    # album figure is computed from (catalog/loudness.py). NULL: not measured yet (`cadenza reprocess`).
    loudness_lufs: Mapped[float | None] = mapped_column(Float)
    loudness_range_lu: Mapped[float | None] = mapped_column(Float)
    true_peak_dbtp: Mapped[float | None] = mapped_column(Float)
    loudness_blocks: Mapped[list[list[float]] | None] = mapped_column(JSON)
    # Where the lyrics came from: "embedded", "lrc" (attached), "none" (looked, found none); NULL: not looked.
    lyrics_source: Mapped[str | None] = mapped_column(String(16))

    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("tracks.id", ondelete="SET NULL"))
    duplicate_score: Mapped[float | None] = mapped_column(Float)

    media_prefix: Mapped[str | None] = mapped_column(String(1000))
    waveform_key: Mapped[str | None] = mapped_column(String(1000))
    play_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    release: Mapped[Release | None] = relationship()
    artwork: Mapped[Artwork | None] = relationship()
    artists: Mapped[list[Artist]] = relationship(
        secondary="track_artists", order_by="TrackArtist.position", viewonly=True
    )
    variants: Mapped[list[TrackVariant]] = relationship(
        back_populates="track", cascade="all, delete-orphan", order_by="TrackVariant.id"
    )

    __table_args__ = (
        CheckConstraint("isrc IS NULL OR length(isrc) = 12", name="isrc_length"),
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        Index("ix_tracks_status", "status"),
        Index("ix_tracks_source_checksum", "source_checksum"),
        Index("ix_tracks_release_id", "release_id"),  # an album's tracks; visibility and counts of albums
        Index("ix_tracks_genre_release_id", "genre", "release_id"),  # albums of a genre
    )


class TrackArtist(Base):
    __tablename__ = "track_artists"

    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(32), default="main")

    __table_args__ = (Index("ix_track_artists_artist_id", "artist_id"),)  # an artist's tracks


# Quality names of the streamed forms that are not an AAC rendition (`aac_<kbps>`) or a download.
FLAC_STREAM = "flac_stream"  # FLAC in CMAF fMP4 (flac/index.m3u8), in the hi-fi manifests only
DASH = "dash"  # the MPD over the AAC renditions (hls/manifest.mpd); the hi-fi MPD sits at the version root


class TrackVariant(Base):
    """One published rendition of a track: an HLS/DASH (CMAF) rendition, the MPD, the MP3 download or the
    hi-fi FLAC."""

    __tablename__ = "track_variants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    quality: Mapped[str] = mapped_column(String(32))  # aac_128, aac_256, aac_320, mp3_320, flac
    codec: Mapped[str] = mapped_column(String(32))
    container: Mapped[str] = mapped_column(String(16))  # cmaf (hls-fmp4 before v2), mpd, mp3, flac
    bitrate_kbps: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(64))

    track: Mapped[Track] = relationship(back_populates="variants")

    __table_args__ = (UniqueConstraint("track_id", "quality", name="uq_track_variants_track_quality"),)


class FingerprintKey(Base):
    """Inverted index from Chromaprint sub-fingerprint keys to tracks, so duplicate lookup needs no scan."""

    __tablename__ = "fingerprint_keys"

    key: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_fingerprint_keys_track_id", "track_id"),)


class LyricLine(Base):
    """One line of a track's lyrics, in order: `start_ms` for synced lyrics (NULL for unsynced ones)."""

    __tablename__ = "lyric_lines"

    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_ms: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
