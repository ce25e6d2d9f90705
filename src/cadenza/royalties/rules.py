"""The royalty settings (`CADENZA_ROYALTIES__*`) and the fixed vocabularies of playback events."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, Field

# What a player may report as being played: the HLS renditions, the progressive files, and "hls" for an
# adaptive session whose rendition the player does not know.
QUALITIES = ("aac_128", "aac_256", "aac_320", "mp3_320", "flac", "hls")
KINDS = ("start", "progress", "pause", "seek", "stop")
UNKNOWN_TERRITORY = "XX"  # rollup key for sessions whose territory the stream endpoint could not tell
UNKNOWN_TIER = "unknown"


class Royalties(BaseModel):
    """How plays become streams, and the limits on what a player may report."""

    # A session is one stream once its credited listening time reaches this (IFPI uses 30 s).
    stream_threshold_sec: float = Field(default=30.0, gt=0)
    # Counted streams per listener per track per UTC day; the rest are discarded (and listed).
    daily_cap_per_track: int = Field(default=10, ge=1)
    # Credited time may not run ahead of the wall clock since the session started times this rate ...
    max_playback_rate: float = Field(default=1.0, ge=1.0, le=4.0)
    # ... plus this much (heartbeat jitter between the audio clock and the wall clock).
    credit_tolerance_sec: float = Field(default=2.0, ge=0, le=60)
    # Credited time per session is at most the track's duration times this: a replay is a new session.
    duration_factor: float = Field(default=1.0, ge=1.0, le=10.0)
    # Events stamped this far after their batch was sent, or before their session started, are rejected.
    timestamp_tolerance_sec: float = Field(default=60.0, ge=0)
    # Events this long after their session started are rejected: the player must open a new session.
    max_session_hours: float = Field(default=24.0, gt=0, le=120)
    max_batch: int = Field(default=500, ge=1, le=5000)
    # How often a server's background refresher folds new events into the daily rollups (0: never).
    refresh_interval_sec: float = Field(default=60.0, ge=0)

    @cached_property
    def threshold_ms(self) -> int:
        return round(self.stream_threshold_sec * 1000)

    @cached_property
    def rate_permille(self) -> int:
        return round(self.max_playback_rate * 1000)

    @cached_property
    def tolerance_ms(self) -> int:
        return round(self.credit_tolerance_sec * 1000)

    @cached_property
    def timestamp_tolerance_ms(self) -> int:
        return round(self.timestamp_tolerance_sec * 1000)

    @cached_property
    def max_session_ms(self) -> int:
        return round(self.max_session_hours * 3_600_000)


def royalty_settings(settings: Any) -> Royalties:
    """The `royalties` group of the settings object (defaults until the group is declared there)."""
    value = getattr(settings, "royalties", None)
    return value if isinstance(value, Royalties) else Royalties()
