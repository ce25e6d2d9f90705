"""Stream authorization: rights for the listener's territory, then signed URLs and a playback session.

The hot path reads a track's media facts and rights from a per-process refresh-ahead cache
(`cadenza.cache`, `TrackMedia`); the rules run on every request against the current time, so an expiry is
exact, and a grant or revoke made through this process is seen at once (the cache entry is dropped);
elsewhere within the cache TTL."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from cadenza.accounts.models import Tier
from cadenza.catalog.models import DASH, FLAC_STREAM, Track, TrackVariant
from cadenza.catalog.visibility import listable_track
from cadenza.config import Delivery
from cadenza.delivery import replaygain, signing
from cadenza.delivery.start import StartInline, StartPieces, inline, master_key
from cadenza.errors import CadenzaError, Forbidden, InvalidInput, NotFound
from cadenza.protection.models import ProtectionPolicy
from cadenza.rights import policy
from cadenza.rights.models import TrackRight
from cadenza.royalties.recorder import NewSession, new_session
from cadenza.storage.base import ObjectStore


class NotAvailable(CadenzaError):
    """No live right covers this use in this territory (HTTP 451)."""


@dataclass(frozen=True)
class TrackMedia:
    """What delivery needs to know about a ready track."""

    id: int
    media_prefix: str
    duration_sec: float
    waveform_key: str | None
    variant_keys: dict[str, str]
    hifi_unavailable_reason: str | None
    rights: tuple[policy.Right, ...]
    protected: bool = False  # its CMAF segments are published encrypted (cenc); licences via Clear Key
    # An administrator protects it (`protection_policies`). Until `cadenza repackage` encrypts its media
    # (`protected`), the clear HLS still plays, but no clear file leaves for keeps: no MP3/FLAC URL or
    # download, and OpenSubsonic refuses it, as for a protected one (docs/delivery.md).
    protection_set: bool = False

    @property
    def withheld(self) -> bool:
        """Protected by policy or by its published media: no clear progressive file, no Subsonic."""
        return self.protected or self.protection_set


@dataclass(frozen=True)
class Listener:
    id: int
    tier: Tier


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
    # The same CMAF segments as `hls_url`, as a DASH MPD (None for tracks packaged before v2: see
    # `cadenza repackage`). The hi-fi pair adds the FLAC rendition to the AAC ladder; hi-fi tier only.
    dash_url: str | None = None
    hifi_hls_url: str | None = None
    hifi_dash_url: str | None = None
    # Protected tracks: where the player's Clear Key CDM posts its licence request (EME), with a
    # short-lived token bound to this listener, this track and this client address.
    licence_url: str | None = None
    # Asked for with `?inline=start` (delivery/start.py): the master, the lightest level's playlist and
    # its init section, so that a player's next request is the first segment. None for protected tracks.
    start: StartInline | None = None


# The three reads of `load_track_media`, built once: building and keying a statement costs about as much
# as running it, and the track cache runs them for every batch it refreshes. Which tracks may be streamed
# at all is `catalog.visibility`'s rule (not ready, taken down, deleted: none), stated there only.
_IDS = bindparam("ids", expanding=True)
_READY_TRACKS = (
    select(
        Track.id,
        Track.media_prefix,
        Track.duration_sec,
        Track.waveform_key,
        Track.hifi_unavailable_reason,
        ProtectionPolicy.protected.label("protection_set"),
    )
    .outerjoin(ProtectionPolicy, ProtectionPolicy.track_id == Track.id)
    .where(Track.id.in_(_IDS), listable_track())
)
_VARIANTS = select(
    TrackVariant.track_id, TrackVariant.quality, TrackVariant.storage_key, TrackVariant.container
).where(TrackVariant.track_id.in_(_IDS))
_RIGHTS = select(
    TrackRight.track_id, TrackRight.right_type, TrackRight.territory, TrackRight.expires_at
).where(TrackRight.track_id.in_(_IDS))


def load_track_media(session: Session, *, track_ids: list[int]) -> dict[int, TrackMedia]:
    """The media facts and rights of those tracks that are ready (three indexed reads for the batch)."""
    rows = [
        r
        for r in session.execute(_READY_TRACKS, {"ids": list(track_ids)})
        if r.media_prefix  # published: an empty prefix is as unready as none
    ]
    if not rows:
        return {}
    ready = [r.id for r in rows]
    variants: dict[int, dict[str, str]] = {i: {} for i in ready}
    protected: set[int] = set()
    for tid, quality, key, container in session.execute(_VARIANTS, {"ids": ready}):
        variants[tid][quality] = key
        if container == PROTECTED_CONTAINER:
            protected.add(tid)
    rights: dict[int, list[policy.Right]] = {i: [] for i in ready}
    for tid, rtype, territory, expires in session.execute(_RIGHTS, {"ids": ready}):
        rights[tid].append(policy.Right(rtype.value, territory, expires))
    return {
        r.id: TrackMedia(
            id=r.id,
            media_prefix=r.media_prefix,
            duration_sec=r.duration_sec or 0.0,
            waveform_key=r.waveform_key,
            variant_keys=variants[r.id],
            hifi_unavailable_reason=r.hifi_unavailable_reason,
            rights=tuple(rights[r.id]),
            protected=r.id in protected,
            protection_set=bool(r.protection_set),
        )
        for r in rows
    }


def playback_ttl(cfg: Delivery, duration_sec: float) -> int:
    """How long segment tokens live: long enough to finish the track with pauses, short enough to die soon."""
    return int(duration_sec * cfg.playback_ttl_factor + cfg.playback_ttl_margin_sec)


def authorize_stream(
    media: TrackMedia | None,
    *,
    track_id: int,
    listener: Listener,
    ip: str,
    territory: str | None,
    keyring: signing.Keyring,
    start_ttl: int,
    cfg: Delivery,
    at: datetime,
    bind_ip: bool = True,
    now: float | None = None,
    start: StartPieces | None = None,
) -> tuple[StreamGrant, NewSession]:
    """Apply the rights rules and sign the URLs; the returned session is for the recorder to store.
    With `start` (the track's start pieces), the grant carries them signed as its master URL's answer
    would be."""
    if media is None:
        raise NotFound(f"track {track_id} not found")
    if not policy.can_stream(media.rights, territory, at):
        raise NotAvailable("this track is not available in your territory")
    t0 = time.time() if now is None else now
    long_ttl = playback_ttl(cfg, media.duration_sec)
    client = ip if bind_ip else None

    def url(key: str, ttl: int) -> str:
        return signing.signed_path(keyring, key=key, depth=0, ttl=ttl, ip=client, now=t0)

    mp3 = media.variant_keys.get("mp3_320")
    dash = media.variant_keys.get(DASH)
    hifi = listener.tier == Tier.hifi and FLAC_STREAM in media.variant_keys
    flac = media.variant_keys.get("flac")
    may_download = policy.has_right(media.rights, right_type="download", territory=territory, at=at)
    playback = new_session(
        track_id=media.id,
        user_id=listener.id,
        territory=territory,
        quality="hls",
        at=at,
        user_tier=listener.tier.value,
    )
    grant = StreamGrant(
        track_id=media.id,
        session_id=playback.id,
        territory=territory,
        duration_sec=media.duration_sec,
        hls_url=url(master_key(media.media_prefix), start_ttl),
        mp3_url=url(mp3, long_ttl) if mp3 and may_download and not media.withheld else None,
        flac_url=url(flac, long_ttl) if flac and listener.tier == Tier.hifi and not media.withheld else None,
        waveform_url=url(media.waveform_key, long_ttl) if media.waveform_key else None,
        expires_at=int(t0 + start_ttl),
        hifi_unavailable_reason=media.hifi_unavailable_reason,
        dash_url=url(dash, start_ttl) if dash else None,
        hifi_hls_url=url(f"{media.media_prefix}/master.m3u8", start_ttl) if hifi else None,
        hifi_dash_url=url(f"{media.media_prefix}/manifest.mpd", start_ttl) if hifi and dash else None,
        licence_url=licence_path(
            keyring, track_id=media.id, user_id=listener.id, ttl=start_ttl, ip=client, now=t0
        )
        if media.protected
        else None,
        start=inline(start, keyring=keyring, ttl=long_ttl, ip=client, now=t0)
        if start is not None and not media.protected
        else None,
    )
    return grant, playback


PROTECTED_CONTAINER = "cmaf-cenc"


def _licence_scope(track_id: int, user_id: int) -> str:
    """What a licence token is signed for: one track, one listener (not an object key)."""
    return f"licence/{track_id}/{user_id}"


def licence_path(
    keyring: signing.Keyring, *, track_id: int, user_id: int, ttl: int, ip: str | None, now: float
) -> str:
    token = signing.sign(
        keyring, key=_licence_scope(track_id, user_id), depth=0, expires_at=int(now + ttl), ip=ip
    )
    return f"/api/tracks/{track_id}/licence?token={token}"


def authorize_licence(
    media: TrackMedia | None,
    *,
    track_id: int,
    listener: Listener,
    token: str | None,
    keyring: signing.Keyring,
    ip: str | None,
    territory: str | None,
    at: datetime,
    now: float | None = None,
) -> TrackMedia:
    """The checks before a content key leaves the server: a licence token from a stream grant for this
    track and this listener (and address), unexpired; the track protected; a live stream right in the
    listener's territory now (the same rule as `authorize_stream`, so a revoked right stops licences)."""
    if not token:
        raise Forbidden("a licence request needs the token of a stream grant")
    try:
        signing.verify(keyring, token=token, key=_licence_scope(track_id, listener.id), ip=ip, now=now)
    except signing.SignatureError as exc:
        raise Forbidden(f"licence token refused: {exc.reason}") from exc
    if media is None:
        raise NotFound(f"track {track_id} not found")
    if not media.protected:
        raise NotFound(f"track {track_id} is not protected: it needs no licence")
    if not policy.can_stream(media.rights, territory, at):
        raise NotAvailable("this track is not available in your territory")
    return media


DOWNLOADS = {"mp3_320": ".mp3", "flac": ".flac"}
PROTECTED_REASON = (
    "track {track_id} is protected: it is delivered only encrypted, to Cadenza's web player "
    "(DASH/HLS with a Clear Key licence); it has no download"
)


def authorize_download(
    media: TrackMedia | None,
    *,
    track_id: int,
    listener: Listener,
    territory: str | None,
    quality: str,
    at: datetime,
) -> str:
    """The storage key of a file the listener may download: a live `download` right in their territory,
    and the hi-fi tier for FLAC. Never for a protected track (`TrackMedia.withheld`), even while its
    clear files are still published: a download is a clear copy for keeps."""
    if quality not in DOWNLOADS:
        raise InvalidInput(f"quality must be one of {', '.join(DOWNLOADS)}")
    if media is None:
        raise NotFound(f"track {track_id} not found")
    if media.withheld:
        raise Forbidden(PROTECTED_REASON.format(track_id=track_id))
    if not policy.has_right(media.rights, right_type="download", territory=territory, at=at):
        raise NotAvailable("this track may not be downloaded in your territory")
    if quality == "flac" and listener.tier != Tier.hifi:
        raise Forbidden("FLAC downloads are for the hi-fi tier")
    key = media.variant_keys.get(quality)
    if key is None:
        raise NotFound(media.hifi_unavailable_reason or f"track {track_id} has no {quality} file")
    return key


def replaygain_download(
    sessions: sessionmaker[Session], *, store: ObjectStore, track_id: int, key: str
) -> str:
    """The key of the authorized MP3 download `key` with the track's ReplayGain tags in it (written once
    per media version and set of values: `delivery.replaygain`). The figures, the album's included,
    are read now. InvalidInput for a FLAC key or a track not measured yet."""
    if not key.endswith(".mp3"):
        raise InvalidInput("ReplayGain tags are written into the MP3 download only (quality=mp3_320)")
    with sessions() as s:
        gain = replaygain.figures(s, track_id=track_id)
    return replaygain.tagged_download(store, source_key=key, gain=gain)
