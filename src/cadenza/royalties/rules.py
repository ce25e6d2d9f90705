"""The royalty settings (`CADENZA_ROYALTIES__*`, declared in `config`) and the fixed vocabularies of
playback events."""

from __future__ import annotations

from typing import Any

from cadenza.config import Royalties

# What a player may report as being played: the HLS renditions, the progressive files, and "hls" for an
# adaptive session whose rendition the player does not know.
QUALITIES = ("aac_128", "aac_256", "aac_320", "mp3_320", "flac", "hls")
KINDS = ("start", "progress", "pause", "seek", "stop")
UNKNOWN_TERRITORY = "XX"  # rollup key for sessions whose territory the stream endpoint could not tell
UNKNOWN_TIER = "unknown"

__all__ = ["KINDS", "QUALITIES", "UNKNOWN_TERRITORY", "UNKNOWN_TIER", "Royalties", "royalty_settings"]


def royalty_settings(settings: Any) -> Royalties:
    """The `royalties` group of the settings object (defaults until the group is declared there)."""
    value = getattr(settings, "royalties", None)
    return value if isinstance(value, Royalties) else Royalties()
