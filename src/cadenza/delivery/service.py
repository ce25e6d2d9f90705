"""Stream authorization: rights for the listener's territory, then signed URLs and a playback session."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from cadenza.accounts.models import Tier, User
from cadenza.catalog.models import Track, TrackStatus
from cadenza.config import Delivery
from cadenza.db.base import utcnow
from cadenza.delivery import signing
from cadenza.errors import CadenzaError, NotFound
from cadenza.rights import policy
from cadenza.rights import service as rights
from cadenza.royalties.sessions import open_session


class NotAvailable(CadenzaError):
    """No live right covers this use in this territory (HTTP 451)."""


@dataclass(frozen=True)
class StreamGrant:
    track_id: int
    session_id: str
    territory: str | None
    duration_sec: float
    hls_url: str
    mp3_url: str | None
    flac_url: str | None
    waveform_url: str | None
    expires_at: int
    hifi_unavailable_reason: str | None


def playback_ttl(cfg: Delivery, duration_sec: float) -> int:
    """How long segment tokens live: long enough to finish the track with pauses, short enough to die soon."""
    return int(duration_sec * cfg.playback_ttl_factor + cfg.playback_ttl_margin_sec)


def authorize_stream(
    session: Session,
    *,
    user: User,
    track_id: int,
    ip: str,
    territory: str | None,
    keyring: signing.Keyring,
    start_ttl: int,
    cfg: Delivery,
    bind_ip: bool = True,
    now: float | None = None,
) -> StreamGrant:
    """Check the track and the stream right, open a playback session, and sign the media URLs."""
    track = session.get(Track, track_id)
    if track is None or track.status != TrackStatus.ready or not track.media_prefix:
        raise NotFound(f"track {track_id} not found")
    held = rights.rights_for(session, track_id=track.id)
    at = utcnow()
    if not policy.can_stream(held, territory, at):
        raise NotAvailable("this track is not available in your territory")
    t0 = time.time() if now is None else now
    duration = track.duration_sec or 0.0
    long_ttl = playback_ttl(cfg, duration)
    client = ip if bind_ip else None
    prefix = track.media_prefix

    def url(key: str, ttl: int) -> str:
        return signing.signed_path(keyring, key=key, depth=0, ttl=ttl, ip=client, now=t0)

    variants = {v.quality: v for v in track.variants}
    mp3 = variants.get("mp3_320")
    may_download = policy.has_right(held, right_type="download", territory=territory, at=at)
    flac = variants.get("flac")
    playback = open_session(session, track_id=track.id, user_id=user.id, territory=territory, quality="hls")
    return StreamGrant(
        track_id=track.id,
        session_id=playback.id,
        territory=territory,
        duration_sec=duration,
        hls_url=url(f"{prefix}/hls/master.m3u8", start_ttl),
        mp3_url=url(mp3.storage_key, long_ttl) if mp3 and may_download else None,
        flac_url=url(flac.storage_key, long_ttl) if flac and user.tier == Tier.hifi else None,
        waveform_url=url(track.waveform_key, long_ttl) if track.waveform_key else None,
        expires_at=int(t0 + start_ttl),
        hifi_unavailable_reason=track.hifi_unavailable_reason,
    )
